"""The Asterisk peer answers FastAGI byte for byte as Asterisk 22 did in the captured sessions.

Each test runs the peer against a tiny FastAGI server written here (asyncio streams, or a raw
socket in a thread for the blocking wrapper). The server scripts only collect what they read;
every assertion is made in the test body, so a failure cannot be swallowed by a server task.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import os
import re
import socket
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ivr import asterisk_peer
from ivr.asterisk_peer import (
    AgiRecord, AsteriskPeer, Caller, Channel, HangUp, Press, Sounds, fail_open_check, load_audio,
    parse_command, run_call,
)

REPO = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 5.0
TRAILING_REPLY = re.compile(rb"^\d{3} ")


# --- the captured transcripts -----------------------------------------------------------------

def transcripts_dir() -> Path | None:
    """`asterisk/transcripts` of the shared folder (SIAGA112_SHARED_DATA's parent, or ../shared)."""
    configured = os.environ.get("SIAGA112_SHARED_DATA")
    shared = Path(configured).parent if configured else REPO.parent / "shared"
    path = shared / "asterisk" / "transcripts"
    return path if path.is_dir() else None


@dataclass
class Transcript:
    """A captured session: the environment block and, per command, the lines Asterisk answered."""

    env: list[bytes]
    turns: list[tuple[bytes, list[bytes]]]


def parse_transcript_lines(text: str) -> list[tuple[str, str, bytes]]:
    """`TIME A->S b'...'` lines as (time, direction, bytes)."""
    lines = []
    for raw in text.splitlines():
        stamp, direction, literal = raw.split(" ", 2)
        lines.append((stamp, direction, ast.literal_eval(literal)))
    return lines


def load_transcript(name: str) -> Transcript:
    folder = transcripts_dir()
    if folder is None or not (folder / name).is_file():
        pytest.skip(f"the captured Asterisk transcript {name} (../shared/asterisk/transcripts, or beside "
                    f"SIAGA112_SHARED_DATA) is not present in this checkout")
    lines = parse_transcript_lines((folder / name).read_text())
    env_end = next(i for i, (_, _, data) in enumerate(lines) if data == b"\n")
    env = [data for _, _, data in lines[:env_end + 1]]
    turns: list[tuple[bytes, list[bytes]]] = []
    for _, direction, data in lines[env_end + 1:]:
        if direction == "S->A":
            turns.append((data, []))
        else:
            turns[-1][1].append(data)
    return Transcript(env, turns)


def channel_from_env(env: list[bytes], **extra) -> Channel:
    """The Channel whose environment block the transcript shows."""
    values = dict(line.decode().rstrip("\n").split(": ", 1) for line in env if line != b"\n")
    args = [values[f"agi_arg_{n}"] for n in range(1, 20) if f"agi_arg_{n}" in values]
    unknown = values["agi_callerid"] == "unknown"
    return Channel(
        script=values["agi_network_script"], args=args, name=values["agi_channel"],
        uniqueid=values["agi_uniqueid"], caller_id=None if unknown else values["agi_callerid"],
        caller_name=None if values["agi_calleridname"] == "unknown" else values["agi_calleridname"],
        context=values["agi_context"], extension=values["agi_extension"],
        priority=int(values["agi_priority"]), language=values["agi_language"],
        threadid=int(values["agi_threadid"]), request=values["agi_request"], **extra)


# --- a scripted FastAGI server ----------------------------------------------------------------

class ServerSide:
    """The FastAGI server's end of one connection, driven by a test script."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.env: list[bytes] = []

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), STEP_TIMEOUT)

    async def read_env(self) -> None:
        while True:
            line = await self.line()
            self.env.append(line)
            if line in (b"\n", b""):
                return

    async def send(self, command: bytes | str) -> None:
        self.writer.write(command if isinstance(command, bytes) else command.encode() + b"\n")
        await self.writer.drain()

    async def lines(self, count: int) -> list[bytes]:
        return [await self.line() for _ in range(count)]

    async def reply(self) -> list[bytes]:
        """Every line up to and including the one that ends a reply (`200 `, `510 `, `520 ` ...)."""
        got = []
        while True:
            line = await self.line()
            got.append(line)
            if not line or TRAILING_REPLY.match(line):
                return got

    async def ask(self, command: str) -> bytes:
        """Send a command, return its whole reply as one bytes value."""
        await self.send(command)
        return b"".join(await self.reply())


async def converse(script, peer_factory=None, **peer_options) -> tuple[AgiRecord, object]:
    """Run one peer against a one-call server driven by `script(server)`; (the peer's record, script result)."""
    outcome = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            server = ServerSide(reader, writer)
            await server.read_env()
            result = await script(server)
            if not outcome.done():
                outcome.set_result(result)
        except BaseException as error:  # handed to the test body, which raises it
            if not outcome.done():
                outcome.set_exception(error)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        peer = (peer_factory or AsteriskPeer)("127.0.0.1", port, **peer_options)
        record = await peer.run()
        result = await asyncio.wait_for(outcome, STEP_TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    return record, result


def run(script, **peer_options) -> tuple[AgiRecord, object]:
    return asyncio.run(converse(script, **peer_options))


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        if width == 2:
            wav.writeframes(samples.astype("<i2").tobytes())
        else:  # 24-bit
            wide = samples.astype(np.int32) * 256
            wav.writeframes(np.stack([wide & 0xFF, (wide >> 8) & 0xFF, (wide >> 16) & 0xFF], axis=-1)
                            .astype(np.uint8).tobytes())
    return path


def speech_like(seconds: float, rate: int = 8000) -> np.ndarray:
    """Loud syllable-like bursts: well above Asterisk's silence threshold while they last."""
    t = np.arange(round(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (9000 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def wav_facts(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()


# --- byte-exact against the captures ----------------------------------------------------------

def replay(transcript: Transcript, reply_check=None):
    """A script that sends the transcript's commands and reads as many lines as Asterisk sent."""
    async def script(server: ServerSide):
        got = []
        for command, expected in transcript.turns:
            await server.send(command)
            got.append(await server.lines(len(expected)))
        return server.env, got
    return script


def test_ivr_session_env_block_and_replies_match_the_capture_byte_for_byte(tmp_path):
    transcript = load_transcript("ivr.txt")
    statement = write_wav(tmp_path / "statement.wav", speech_like(2.0))
    record, (env, replies) = run(
        replay(transcript), channel=channel_from_env(transcript.env),
        caller=Caller(speech=statement), files_root=tmp_path / "root")

    assert env == transcript.env
    for (command, expected), got in zip(transcript.turns, replies):
        if command.startswith(b"RECORD FILE"):
            # The numbers come from the caller's audio; the form must be Asterisk's.
            assert re.fullmatch(rb"200 result=\d+ \(timeout\) endpos=\d+\n", got[0]), got
        else:
            assert got == expected, command
    assert record.agi_status == "SUCCESS"
    assert record.value("QUEUE_PRIO") == "10"
    assert record.verbose == ["x"]
    recording = record.recordings[0]
    assert recording.path == tmp_path / "root/var/spool/asterisk/siaga112/test-cidB.wav"
    rate, channels, width, frames = wav_facts(recording.path)
    assert (rate, channels, width, frames) == (8000, 1, 2, recording.endpos)
    # Half a second before speaking, two seconds of speech, then 2 s of silence of which
    # Asterisk keeps the first second: the file holds about 3.5 s.
    assert 3.3 < frames / 8000 < 3.7
    assert wav_facts(record.mix_files[0])[:3] == (8000, 1, 2)


def test_hang_up_during_a_command_gives_minus_one_then_hangup_and_511():
    transcript = load_transcript("hangup_during_command.txt")
    record, (env, replies) = run(
        replay(transcript), channel=channel_from_env(transcript.env),
        caller=Caller(hangup=HangUp(during="wait", after=1.48)))

    assert env == transcript.env
    assert replies == [expected for _, expected in transcript.turns]
    assert record.agi_status == "HANGUP"
    assert record.hung_up_by == "caller"


def test_hang_up_while_the_server_is_idle_sends_hangup_at_once_and_no_caller_id_reads_empty():
    transcript = load_transcript("hangup_while_idle.txt")
    channel = channel_from_env(transcript.env)
    assert channel.caller_id is None
    record, (env, replies) = run(
        replay(transcript), channel=channel, caller=Caller(hangup=HangUp(following="answer")))

    assert env == transcript.env
    assert replies == [expected for _, expected in transcript.turns]
    assert record.agi_status == "HANGUP"


def test_agent_leg_reads_connected_line_queue_and_member_as_captured():
    transcript = load_transcript("agent_connected.txt")
    variables = {"CONNECTEDLINE(num)": "+6281234567890", "QUEUENAME": "emergency112",
                 "MEMBERINTERFACE": "Local/agent1@agents/n"}
    record, (env, replies) = run(
        replay(transcript), channel=channel_from_env(transcript.env, answered=True, variables=variables))

    assert env == transcript.env
    assert replies == [expected for _, expected in transcript.turns]
    assert record.agi_status == "SUCCESS"
    assert record.verbose == ["agent connected"]


def transcript_of(record: AgiRecord) -> str:
    """The session in the format of the shared transcripts: `TIME A->S b'line\\n'`."""
    return "".join(f"{line.at.replace(tzinfo=None).isoformat(timespec='microseconds')} "
                   f"{line.direction} {line.data!r}\n" for line in record.lines)


def test_peer_transcript_is_in_the_captures_format():
    async def script(server):
        return await server.ask("ANSWER")

    record, _ = run(script, channel=Channel(caller_id="+6281234567890"))
    parsed = parse_transcript_lines(transcript_of(record))
    sent = [(line.direction, line.data) for line in record.lines]
    assert [(direction, data) for _, direction, data in parsed] == sent
    assert parsed[0][2] == b"agi_network: yes\n"
    assert (parsed[-2][1], parsed[-2][2]) == ("A->S", b"200 result=0\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", parsed[0][0])


# --- parsing commands -------------------------------------------------------------------------

def test_parse_command_examples_in_its_docstring_hold():
    failures, tried = doctest.testmod(asterisk_peer, optionflags=doctest.ELLIPSIS)
    assert tried >= 8 and failures == 0


@pytest.mark.parametrize("line, name, argv", [
    ('STREAM FILE beep ""', "STREAM FILE", ("STREAM", "FILE", "beep", "")),
    ("stream file beep 12", "STREAM FILE", ("stream", "file", "beep", "12")),
    ("EXEC MixMonitor /var/spool/asterisk/siaga112/mix-cidB.wav", "EXEC",
     ("EXEC", "MixMonitor", "/var/spool/asterisk/siaga112/mix-cidB.wav")),
    ('EXEC Playback "siaga112/id/welcome&beep"', "EXEC", ("EXEC", "Playback", "siaga112/id/welcome&beep")),
    ("SET VARIABLE\tQUEUE_PRIO  10", "SET VARIABLE", ("SET", "VARIABLE", "QUEUE_PRIO", "10")),
    (r"VERBOSE a\ b 1", "VERBOSE", ("VERBOSE", "a b", "1")),
    ('VERBOSE "a"b 1', "VERBOSE", ("VERBOSE", "ab", "1")),
    ("GET VARIABLE PJSIP_HEADER(read,Geolocation)", "GET VARIABLE",
     ("GET", "VARIABLE", "PJSIP_HEADER(read,Geolocation)")),
    ("WAIT FOR DIGIT 5000\r", "WAIT FOR DIGIT", ("WAIT", "FOR", "DIGIT", "5000\r")),
    ("ANSWER\r", None, ("ANSWER\r",)),
    ("FOO BAR", None, ("FOO", "BAR")),
])
def test_parse_command_splits_like_res_agi(line, name, argv):
    assert parse_command(line) == asterisk_peer.AgiCommand(name, argv)


# --- prompts and keys -------------------------------------------------------------------------

def test_key_pressed_during_a_prompt_interrupts_it_with_its_ascii_code():
    async def script(server):
        return [await server.ask('STREAM FILE beep "12"'), await server.ask("GET VARIABLE PLAYBACKSTATUS")]

    record, replies = run(script, caller=Caller(presses=[Press("2", during="beep", after=0.2)]))
    assert replies == [b"200 result=50 endpos=1600\n", b"200 result=1 (FAILED)\n"]
    assert record.played == ["beep"]


def test_key_nobody_listens_for_is_dropped():
    async def script(server):
        return [await server.ask('STREAM FILE beep ""'), await server.ask("WAIT FOR DIGIT 1000")]

    record, replies = run(script, caller=Caller(presses=[Press("1", during="beep")]))
    assert replies == [b"200 result=0 endpos=3404\n", b"200 result=0\n"]
    assert record.lost_digits == ["1"]


def test_keys_answer_successive_waits_and_prompts_are_found_by_name():
    sounds = Sounds([], lengths={"siaga112/id/silent_check": 16000})

    async def script(server):
        return [await server.ask('STREAM FILE siaga112/id/silent_check "5"'),
                await server.ask("WAIT FOR DIGIT 5000"), await server.ask("WAIT FOR DIGIT 5000")]

    caller = Caller(presses=[Press("5", during="silent_check", after=1.0), Press("5", during="wait")])
    record, replies = run(script, caller=caller, sounds=sounds)
    assert replies == [b"200 result=53 endpos=8000\n", b"200 result=53\n", b"200 result=0\n"]


def test_long_waits_take_no_real_time_unless_realtime():
    async def script(server):
        return [await server.ask("WAIT FOR DIGIT 30000"), await server.ask('STREAM FILE long ""')]

    started = time.monotonic()
    _, replies = run(script, sounds=Sounds([], lengths={"long": 8000 * 60}))
    assert replies == [b"200 result=0\n", b"200 result=0 endpos=480000\n"]
    assert time.monotonic() - started < 2.0


def test_missing_prompt_answers_minus_one_and_makes_agistatus_failure():
    async def script(server):
        return await server.ask('STREAM FILE siaga112/id/no_such_prompt ""')

    record, reply = run(script, sounds=Sounds([]))
    assert reply == b"200 result=-1 endpos=0\n"
    assert record.agi_status == "FAILURE"


def test_shipped_prompts_are_found_in_the_checkout():
    sounds = Sounds()
    for language in ("id", "en"):
        for name in ("welcome", "choose_service", "record_statement", "silent_check",
                     "silent_confirmed", "prank_warning", "connecting"):
            length = sounds.samples(f"siaga112/{language}/{name}")
            assert length is not None and 1.0 < length / 8000 < 12.0, (language, name)


# --- recording --------------------------------------------------------------------------------

def test_record_file_ends_on_silence_and_the_file_is_as_long_as_endpos(tmp_path):
    speech = write_wav(tmp_path / "speech.wav", speech_like(3.0))

    async def script(server):
        return await server.ask(f'RECORD FILE {tmp_path}/statement wav "#" 20000 0 s=2')

    record, reply = run(script, caller=Caller(speech=speech, speech_after=0.5))
    result, endpos = re.fullmatch(rb"200 result=(\d+) \(timeout\) endpos=(\d+)\n", reply).groups()
    # 0.5 s lead-in + 3 s speech + 2.02 s until silence counts as "more than 2 s", minus 1 s.
    assert int(endpos) == round((0.5 + 3.0 + 2.02 - 1.0) * 8000)
    assert int(result) == 20000 - 5520
    assert wav_facts(tmp_path / "statement.wav") == (8000, 1, 2, int(endpos))
    assert record.recordings[0].stopped_by == "timeout"


def test_record_file_of_a_silent_caller_stops_after_the_silence_limit(tmp_path):
    async def script(server):
        return await server.ask(f'RECORD FILE {tmp_path}/quiet wav "#" 20000 0 s=2')

    _, reply = run(script)
    assert reply == f"200 result={20000 - 2020} (timeout) endpos={round(1.02 * 8000)}\n".encode()


def test_record_file_without_silence_limit_runs_to_the_time_limit(tmp_path):
    async def script(server):
        return await server.ask(f"RECORD FILE {tmp_path}/full wav # 3000")

    _, reply = run(script)
    assert reply == b"200 result=1 (timeout) endpos=24000\n"


def test_record_file_escape_key_ends_it_with_dtmf_and_chops_200_ms(tmp_path):
    async def script(server):
        return await server.ask(f'RECORD FILE {tmp_path}/statement wav "#" 20000 0 s=2')

    caller = Caller(speech=write_wav(tmp_path / "s.wav", speech_like(5.0)),
                    presses=[Press("#", during="record", after=2.0)])
    record, reply = run(script, caller=caller)
    assert reply == f"200 result=35 (dtmf) endpos={2 * 8000 - 1600}\n".encode()
    assert wav_facts(tmp_path / "statement.wav")[3] == 2 * 8000 - 1600
    assert record.recordings[0].stopped_by == "dtmf"


def test_hang_up_mid_recording_answers_hangup_and_keeps_what_was_recorded(tmp_path):
    async def script(server):
        return [await server.ask(f'RECORD FILE {tmp_path}/statement wav "#" 20000 0 s=2'),
                await server.ask("ANSWER"), await server.ask("GET VARIABLE CALLERID(num)")]

    caller = Caller(speech=write_wav(tmp_path / "s.wav", speech_like(5.0)),
                    hangup=HangUp(during="record", after=1.5))
    record, replies = run(script, caller=caller)
    assert replies == [b"200 result=-1 (hangup) endpos=12000\n",
                       b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n",
                       b"200 result=1 (+6281234567890)\n"]
    assert wav_facts(tmp_path / "statement.wav")[3] == 12000
    assert record.agi_status == "HANGUP"


def test_record_file_into_a_missing_folder_fails_with_writefile(tmp_path):
    async def script(server):
        return await server.ask(f'RECORD FILE {tmp_path}/no/such/folder/x wav "#" 2000')

    record, reply = run(script)
    assert reply == b"200 result=-1 (writefile)\n"
    assert record.agi_status == "FAILURE"


def test_a_live_reader_sees_the_recording_grow_before_the_reply(tmp_path):
    target = tmp_path / "live.wav"

    async def script(server):
        await server.send(f'RECORD FILE {tmp_path}/live wav "#" 1000')
        reply = asyncio.ensure_future(server.reply())
        seen = set()  # (file size, data size in the WAV header) while the recording runs
        while not reply.done():
            if target.exists():
                with open(target, "rb") as growing:
                    data = growing.read()
                if len(data) >= 44:
                    seen.add((len(data), int.from_bytes(data[40:44], "little")))
            await asyncio.wait({reply}, timeout=0.05)
        return seen, await reply

    started = time.monotonic()
    speech = write_wav(tmp_path / "s.wav", speech_like(2.0))
    _, (seen, reply) = run(script, realtime=True, caller=Caller(speech=speech))
    assert reply == [b"200 result=1 (timeout) endpos=8000\n"]
    # Asterisk's format_wav leaves the header sizes at zero until the file is closed.
    assert len({size for size, header_size in seen if size > 44 and header_size == 0}) >= 3
    assert time.monotonic() - started >= 0.9
    assert wav_facts(target) == (8000, 1, 2, 8000)


def test_speech_from_any_wav_is_heard_as_8_khz_mono(tmp_path):
    stereo = np.repeat(speech_like(1.5, rate=16000)[:, None], 2, axis=1).reshape(-1)
    source = write_wav(tmp_path / "phone.wav", stereo, rate=16000, channels=2, width=3)
    samples = load_audio(source)
    assert samples.dtype == np.int16 and abs(len(samples) - 12000) <= 1
    assert 3000 < np.abs(samples.astype(np.int32)).mean() < 9000


# --- variables and applications ---------------------------------------------------------------

def test_set_variable_is_recorded_and_inheritance_prefix_sets_the_plain_name():
    async def script(server):
        return [await server.ask("SET VARIABLE __SIAGA_CALL_ID 42"), await server.ask("GET VARIABLE SIAGA_CALL_ID"),
                await server.ask('GET FULL VARIABLE "${SIAGA_CALL_ID}-${NOPE}-${CALLERID(num)}"'),
                await server.ask("GET VARIABLE NO_SUCH_VAR")]

    record, replies = run(script, channel=Channel(caller_id="+6285712345678"))
    assert replies == [b"200 result=1\n", b"200 result=1 (42)\n", b"200 result=1 (42--+6285712345678)\n",
                       b"200 result=0\n"]
    assert record.variables_set == [("__SIAGA_CALL_ID", "42")]
    assert record.value("SIAGA_CALL_ID") == "42"


def test_functions_read_from_the_channel_table_and_unset_ones_read_as_unset():
    geolocation = "<cid:target123@example.net>"
    channel = Channel(variables={"PJSIP_HEADER(read,Geolocation)": geolocation})

    async def script(server):
        return [await server.ask("GET VARIABLE PJSIP_HEADER(read,Geolocation)"),
                await server.ask("GET VARIABLE pjsip_header(read,Geolocation)"),
                await server.ask("GET VARIABLE PJSIP_HEADER(read,P-Access-Network-Info)")]

    _, replies = run(script, channel=channel)
    assert replies == [f"200 result=1 ({geolocation})\n".encode()] * 2 + [b"200 result=0\n"]


def test_mixmonitor_creates_the_file_and_unknown_applications_answer_minus_two(tmp_path):
    async def script(server):
        return [await server.ask(f"EXEC MixMonitor {tmp_path}/calls/call-7-full.wav"),
                await server.ask("EXEC Playback beep"), await server.ask("EXEC NoSuchApplication foo"),
                await server.ask("GET VARIABLE MIXMONITOR_FILENAME")]

    record, replies = run(script)
    assert replies == [b"200 result=0\n", b"200 result=0\n", b"200 result=-2\n",
                       f"200 result=1 ({tmp_path}/calls/call-7-full.wav)\n".encode()]
    rate, channels, width, frames = wav_facts(tmp_path / "calls/call-7-full.wav")
    assert (rate, channels, width, frames) == (8000, 1, 2, 3404)  # the beep's length, heard as silence
    assert record.agi_status == "SUCCESS"


def test_unknown_crlf_and_unsimulated_commands_answer_510_and_bad_usage_520():
    async def script(server):
        return [await server.ask("FOO BAR"), await server.ask("ANSWER\r"), await server.ask("GET DATA beep 3000 3"),
                await server.ask("WAIT FOR DIGIT")]

    record, replies = run(script)
    assert replies[:3] == [b"510 Invalid or unknown command\n"] * 3
    assert replies[3] == (b"520-Invalid command syntax.  Proper usage follows:\n"
                          b"Usage: WAIT FOR DIGIT timeout\n520 End of proper usage.\n")
    assert record.unsupported == ["GET DATA"]


def test_channel_status_is_ringing_until_answer():
    async def script(server):
        return [await server.ask("CHANNEL STATUS"), await server.ask("ANSWER"), await server.ask("CHANNEL STATUS")]

    _, replies = run(script)
    assert replies == [b"200 result=4\n", b"200 result=0\n", b"200 result=6\n"]


# --- hang-up and the end of the AGI -----------------------------------------------------------

def test_server_hangup_is_answered_then_announced_and_the_channel_is_dead():
    async def script(server):
        hangup = await server.ask("HANGUP")
        announced = await server.line()
        return [hangup, announced, await server.ask("ANSWER"), await server.ask("SET VARIABLE AFTER 1")]

    record, replies = run(script)
    assert replies == [b"200 result=1\n", b"HANGUP\n",
                       b"511 Command Not Permitted on a dead channel or intercept routine\n", b"200 result=1\n"]
    assert record.hung_up_by == "agi" and record.agi_status == "HANGUP"


def test_hang_up_after_seconds_cuts_a_long_prompt():
    async def script(server):
        return [await server.ask('STREAM FILE long ""'), await server.ask("ANSWER")]

    record, replies = run(script, caller=Caller(hangup=HangUp(after=1.0)), sounds=Sounds([], lengths={"long": 24000}))
    assert replies == [b"200 result=-1 endpos=8000\n",
                       b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n"]


def test_hang_up_from_outside_while_idle_sends_hangup_line():
    holder = {}

    def factory(*args, **kwargs):
        holder["peer"] = AsteriskPeer(*args, **kwargs)
        return holder["peer"]

    async def script(server):
        answered = await server.ask("ANSWER")
        holder["peer"].hang_up()
        return [answered, await server.line(), await server.ask('STREAM FILE beep ""')]

    record, replies = asyncio.run(converse(script, peer_factory=factory))
    assert replies == [b"200 result=0\n", b"HANGUP\n",
                       b"511 Command Not Permitted on a dead channel or intercept routine\n"]
    assert record.agi_status == "HANGUP"


def test_agiexitonhangup_ends_the_agi_right_after_the_hangup_line():
    async def script(server):
        return [await server.ask("ANSWER"), await server.line(), await server.line()]

    record, replies = run(script, channel=Channel(variables={"AGIEXITONHANGUP": "yes"}),
                          caller=Caller(hangup=HangUp(following="answer")))
    assert replies[:2] == [b"200 result=0\n", b"HANGUP\n"]
    assert replies[2] in (b"HANGUP\n", b"")  # run_agi's parting HANGUP, then the socket closes
    assert record.closed_by == "peer" and record.agi_status == "HANGUP"


def test_a_silent_server_does_not_hold_the_peer_for_ever():
    async def script(server):
        return await server.line()  # waits until the peer gives up and closes

    record, last = run(script, timeout=0.3)
    assert record.timed_out and last == b""


def test_connection_refused_is_agistatus_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        record = run_call("127.0.0.1", port)
        assert record.agi_status == "FAILURE" and record.error
        assert fail_open_check("127.0.0.1", port) == "FAILURE"


def test_fail_open_check_reports_success_when_the_server_listens():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        assert fail_open_check("127.0.0.1", listening.getsockname()[1]) == "SUCCESS"


# --- the blocking wrapper and load ------------------------------------------------------------

def _threaded_server(commands: list[str]):
    """A raw-socket FastAGI server in a thread: reads the environment, sends commands, keeps replies."""
    listening = socket.create_server(("127.0.0.1", 0))
    got: dict[str, object] = {}

    def serve():
        connection, _ = listening.accept()
        with connection, connection.makefile("rwb") as stream:
            env = []
            while (line := stream.readline()) not in (b"\n", b""):
                env.append(line)
            replies = []
            for command in commands:
                stream.write(command.encode() + b"\n")
                stream.flush()
                replies.append(stream.readline())
            got.update(env=env, replies=replies)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listening, thread, got


@pytest.mark.parametrize("inside_event_loop", [False, True])
def test_run_call_blocks_until_the_agi_ends_even_inside_an_event_loop(inside_event_loop):
    listening, thread, got = _threaded_server(["ANSWER", "SET VARIABLE QUEUE_PRIO 10"])
    with listening:
        port = listening.getsockname()[1]
        if inside_event_loop:
            async def call():
                return run_call("127.0.0.1", port, Channel(caller_id="+6281234567890"))
            record = asyncio.run(call())
        else:
            record = run_call("127.0.0.1", port, Channel(caller_id="+6281234567890"))
        thread.join(STEP_TIMEOUT)
    assert got["replies"] == [b"200 result=0\n", b"200 result=1\n"]
    assert record.value("QUEUE_PRIO") == "10" and record.agi_status == "SUCCESS"


def test_many_concurrent_calls_share_one_event_loop(tmp_path):
    speech = write_wav(tmp_path / "speech.wav", speech_like(1.0))
    calls = 50

    async def main():
        seen = []

        async def handle(reader, writer):
            server = ServerSide(reader, writer)
            await server.read_env()
            uniqueid = next(line for line in server.env if line.startswith(b"agi_uniqueid:"))[14:].strip()
            replies = [await server.ask("ANSWER"), await server.ask('STREAM FILE beep ""'),
                       await server.ask(f'RECORD FILE {tmp_path}/{uniqueid.decode()} wav "#" 20000 0 s=2'),
                       await server.ask(f"SET VARIABLE SIAGA_CALL_ID {uniqueid.decode()}")]
            seen.append(replies)
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            records = await asyncio.gather(*(
                AsteriskPeer("127.0.0.1", port, Channel(caller_id=f"+62812000{n:05d}"), Caller(speech=speech)).run()
                for n in range(calls)))
        return records, seen

    started = time.monotonic()
    records, seen = asyncio.run(main())
    assert [record.agi_status for record in records] == ["SUCCESS"] * calls
    assert len({record.value("SIAGA_CALL_ID") for record in records}) == calls
    assert all(re.fullmatch(rb"200 result=\d+ \(timeout\) endpos=\d+\n", replies[2]) for replies in seen)
    assert time.monotonic() - started < 20
