"""The Asterisk side of FastAGI: places a call into a FastAGI server exactly as Asterisk 22 does.

Used by the test suite, by load tests (many peers in one event loop) and by
`siaga112 simulate-call`. It connects, sends the environment block, and answers every command
with the bytes a real Asterisk 22.10.1 sent in captured sessions: `200 result=` forms, `510`,
the multi-line `520` usage block, the `HANGUP` line and `511` after a hang-up. A scripted
`Caller` presses keys, speaks into RECORD FILE (a real 8 kHz WAV is written as it records) and
hangs up when told. Call time is simulated: prompts and waits take no real time unless
`realtime=True`. It simulates the commands and applications the IVR uses; any other command
answers 510 (and is noted in `AgiRecord.unsupported`). The whole path through a real Asterisk,
with SIP calls, is tested in `tests/asterisk`.

    >>> record = run_call("127.0.0.1", 4573, Channel(caller_id="+6281234567890"),
    ...                   Caller(presses=[Press("1", during="choose_service")],
    ...                          speech="statement.wav"))                      # doctest: +SKIP
    >>> record.agi_status, record.value("QUEUE_PRIO")                          # doctest: +SKIP
    ('SUCCESS', '10')

Asterisk quirks kept on purpose, because a server must survive them: only the final newline of
a command is stripped (a CRLF command is unknown: 510), keys nobody listens for are dropped,
a hang-up during a command is announced with `HANGUP` just before the next reply, and the
file RECORD FILE writes has zero sizes in its WAV header until the recording ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import shutil
import subprocess
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Coroutine, Iterable, Mapping, Sequence, TypeVar

import numpy as np

log = logging.getLogger(__name__)

ASTERISK_VERSION = "22.10.1"
RATE = 8000                      # samples per second: Asterisk's slin and the WAV it writes
FRAME_SAMPLES = 160              # one 20 ms voice frame
FRAME_SECONDS = FRAME_SAMPLES / RATE
FRAME_MS = 20
BEEP_SAMPLES = 3404              # Asterisk's core sound "beep" (STREAM FILE beep -> endpos=3404)
DTMF_DIGITS = "0123456789*#ABCD"
SILENCE_THRESHOLD = 256          # dsp.conf silencethreshold: mean |sample| below it is silence
MAX_ARGS = 128                   # res_agi drops words beyond this many

UNKNOWN_COMMAND = "510 Invalid or unknown command\n"
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine\n"
USAGE_START = "520-Invalid command syntax.  Proper usage follows:\n"
USAGE_END = "520 End of proper usage.\n"

# STREAM FILE's usage text exactly as Asterisk 22.10.1 sent it (transcripts/ivr.txt).
_STREAM_FILE_USAGE = (
    "Send the given file, allowing playback to be interrupted by the given digits, if any. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII "
    "numerical value of the digit if one was pressed, or <literal>-1</literal> on error or if the "
    "channel was disconnected. If musiconhold is playing before calling stream file it will be "
    "automatically stopped and will not be restarted after completion.\n"
    "It sets the following channel variables upon completion:\n"
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    "    <value>SUCCESS</value>\n"
    "    <value>FAILED</value>\n"
)


@dataclass(frozen=True)
class _CommandSpec:
    """One AGI command Asterisk 22 registers: whether it runs on a dead channel, and how to usage it.

    `usage` is the text between the `520-` and `520 ` lines. Only STREAM FILE's was captured
    from Asterisk; the others keep the exact framing with a one-line syntax of our own.
    """

    runs_dead: bool
    usage: str
    simulated: bool = True


_COMMANDS: dict[str, _CommandSpec] = {
    "ANSWER": _CommandSpec(False, "Usage: ANSWER\n"),
    "ASYNCAGI BREAK": _CommandSpec(True, "Usage: ASYNCAGI BREAK\n", simulated=False),
    "CHANNEL STATUS": _CommandSpec(False, "Usage: CHANNEL STATUS [channelname]\n"),
    "CONTROL STREAM FILE": _CommandSpec(
        False, "Usage: CONTROL STREAM FILE filename escape_digits [skipms ffchar rewchr pausechr]\n", simulated=False),
    "DATABASE DEL": _CommandSpec(True, "Usage: DATABASE DEL family key\n", simulated=False),
    "DATABASE DELTREE": _CommandSpec(True, "Usage: DATABASE DELTREE family [keytree]\n", simulated=False),
    "DATABASE GET": _CommandSpec(True, "Usage: DATABASE GET family key\n", simulated=False),
    "DATABASE PUT": _CommandSpec(True, "Usage: DATABASE PUT family key value\n", simulated=False),
    "EXEC": _CommandSpec(True, "Usage: EXEC application options\n"),
    "GET DATA": _CommandSpec(False, "Usage: GET DATA file [timeout [maxdigits]]\n", simulated=False),
    "GET FULL VARIABLE": _CommandSpec(True, "Usage: GET FULL VARIABLE variablename [channel]\n"),
    "GET OPTION": _CommandSpec(False, "Usage: GET OPTION filename escape_digits [timeout]\n", simulated=False),
    "GET VARIABLE": _CommandSpec(True, "Usage: GET VARIABLE variablename\n"),
    "GOSUB": _CommandSpec(False, "Usage: GOSUB context extension priority [argument]\n", simulated=False),
    "HANGUP": _CommandSpec(False, "Usage: HANGUP [channelname]\n"),
    "NOOP": _CommandSpec(True, "Usage: NOOP\n"),
    "RECEIVE CHAR": _CommandSpec(False, "Usage: RECEIVE CHAR timeout\n", simulated=False),
    "RECEIVE TEXT": _CommandSpec(False, "Usage: RECEIVE TEXT timeout\n", simulated=False),
    "RECORD FILE": _CommandSpec(
        False, "Usage: RECORD FILE filename format escape_digits timeout [offset_samples] [BEEP] [s=silence]\n"),
    "SAY ALPHA": _CommandSpec(False, "Usage: SAY ALPHA string escape_digits\n", simulated=False),
    "SAY DATE": _CommandSpec(False, "Usage: SAY DATE date escape_digits\n", simulated=False),
    "SAY DATETIME": _CommandSpec(
        False, "Usage: SAY DATETIME time escape_digits [format [timezone]]\n", simulated=False),
    "SAY DIGITS": _CommandSpec(False, "Usage: SAY DIGITS number escape_digits\n", simulated=False),
    "SAY NUMBER": _CommandSpec(False, "Usage: SAY NUMBER number escape_digits [gender]\n", simulated=False),
    "SAY PHONETIC": _CommandSpec(False, "Usage: SAY PHONETIC string escape_digits\n", simulated=False),
    "SAY TIME": _CommandSpec(False, "Usage: SAY TIME time escape_digits\n", simulated=False),
    "SEND IMAGE": _CommandSpec(False, "Usage: SEND IMAGE image\n", simulated=False),
    "SEND TEXT": _CommandSpec(False, "Usage: SEND TEXT text\n", simulated=False),
    "SET AUTOHANGUP": _CommandSpec(False, "Usage: SET AUTOHANGUP time\n", simulated=False),
    "SET CALLERID": _CommandSpec(False, "Usage: SET CALLERID number\n", simulated=False),
    "SET CONTEXT": _CommandSpec(False, "Usage: SET CONTEXT context\n", simulated=False),
    "SET EXTENSION": _CommandSpec(False, "Usage: SET EXTENSION extension\n", simulated=False),
    "SET MUSIC": _CommandSpec(False, "Usage: SET MUSIC on|off class\n", simulated=False),
    "SET PRIORITY": _CommandSpec(False, "Usage: SET PRIORITY priority\n", simulated=False),
    "SET VARIABLE": _CommandSpec(True, "Usage: SET VARIABLE variablename value\n"),
    "SPEECH ACTIVATE GRAMMAR": _CommandSpec(False, "Usage: SPEECH ACTIVATE GRAMMAR name\n", simulated=False),
    "SPEECH CREATE": _CommandSpec(False, "Usage: SPEECH CREATE engine\n", simulated=False),
    "SPEECH DEACTIVATE GRAMMAR": _CommandSpec(False, "Usage: SPEECH DEACTIVATE GRAMMAR name\n", simulated=False),
    "SPEECH DESTROY": _CommandSpec(True, "Usage: SPEECH DESTROY\n", simulated=False),
    "SPEECH LOAD GRAMMAR": _CommandSpec(False, "Usage: SPEECH LOAD GRAMMAR name path\n", simulated=False),
    "SPEECH RECOGNIZE": _CommandSpec(False, "Usage: SPEECH RECOGNIZE prompt timeout [offset]\n", simulated=False),
    "SPEECH SET": _CommandSpec(False, "Usage: SPEECH SET name value\n", simulated=False),
    "SPEECH UNLOAD GRAMMAR": _CommandSpec(True, "Usage: SPEECH UNLOAD GRAMMAR name\n", simulated=False),
    "STREAM FILE": _CommandSpec(False, _STREAM_FILE_USAGE),
    "TDD MODE": _CommandSpec(False, "Usage: TDD MODE on|off\n", simulated=False),
    "VERBOSE": _CommandSpec(True, "Usage: VERBOSE message level\n"),
    "WAIT FOR DIGIT": _CommandSpec(False, "Usage: WAIT FOR DIGIT timeout\n"),
}
_COMMAND_WORDS = [(tuple(name.split()), name) for name in _COMMANDS]


# --- parsing commands -------------------------------------------------------------------------

@dataclass(frozen=True)
class AgiCommand:
    """One command line as res_agi sees it: the command it selects (None if unknown) and all words."""

    name: str | None
    argv: tuple[str, ...]


def parse_command(line: str) -> AgiCommand:
    r"""Split one command line the way res_agi's parse_args does and find the command it names.

    Double quotes group words and are dropped (`""` is an empty word), a backslash takes the
    next character literally, and command words match case-insensitively. Asterisk strips
    only the final newline before this, so a carriage return stays in the last word:

    >>> parse_command('STREAM FILE beep ""')
    AgiCommand(name='STREAM FILE', argv=('STREAM', 'FILE', 'beep', ''))
    >>> parse_command('GET FULL VARIABLE "${CALLERID(all)} ${CHANNEL}"').argv[3]
    '${CALLERID(all)} ${CHANNEL}'
    >>> parse_command('RECORD FILE /var/spool/asterisk/siaga112/test-cidB wav "#" 20000 0 s=2').argv[4:]
    ('#', '20000', '0', 's=2')
    >>> parse_command('VERBOSE "agent connected" 1').argv
    ('VERBOSE', 'agent connected', '1')
    >>> parse_command(r'SET VARIABLE NOTE "say \"tolong\""').argv[3]
    'say "tolong"'
    >>> parse_command('get variable CALLERID(num)').name
    'GET VARIABLE'
    >>> parse_command('ANSWER\r').name is None, parse_command('FOO BAR').name is None
    (True, True)
    >>> parse_command('STREAM').name is None, parse_command('').name is None
    (True, True)
    """
    argv = tuple(_split_words(line))
    folded = [word.upper() for word in argv]
    for words, name in _COMMAND_WORDS:
        if tuple(folded[:len(words)]) == words:
            return AgiCommand(name, argv)
    return AgiCommand(None, argv)


def _split_words(line: str) -> list[str]:
    words: list[list[str]] = []
    quoted = escaped = False
    between = True  # "whitespace" in res_agi: the next ordinary character starts a word
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and between:
                words.append([])
                between = False
            continue
        if char in " \t" and not quoted and not escaped:
            between = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if between:
            if len(words) >= MAX_ARGS - 1:
                continue
            words.append([])
            between = False
        words[-1].append(char)
        escaped = False
    return ["".join(word) for word in words]


def _scan_int(text: str) -> int | None:
    """C's sscanf("%d"): leading blanks, a sign, digits; None when there are no digits."""
    text = text.lstrip(" \t\n")
    sign = 1
    if text and text[0] in "+-":
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    digits = ""
    for char in text[:30]:
        if not char.isdigit():
            break
        digits += char
    return sign * int(digits) if digits else None


def _atoi(text: str) -> int:
    value = _scan_int(text)
    return 0 if value is None else value


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _is_false(value: str | None) -> bool:
    return (value or "").strip().lower() in ("no", "false", "n", "f", "0", "off")


# --- the scripted caller ----------------------------------------------------------------------

@dataclass(frozen=True)
class Press:
    """Keys the caller presses, `after` seconds into a step, one every `gap` seconds.

    A step is named by what the server asks for: a prompt (`"choose_service"` or its full path
    `"siaga112/id/choose_service"`), `"wait"` (WAIT FOR DIGIT), `"record"` (RECORD FILE),
    `"prompt"` (any prompt), a command (`"wait for digit"`) or `"listen"`: the next command that
    listens for keys at all. Each Press is used at the next step of its name that has not had
    one yet, so two `Press("5", during="wait")` answer two WAIT FOR DIGITs. Keys Asterisk is
    not listening for are dropped, as on a real channel (they show in `lost_digits`).
    """

    digits: str
    during: str = "listen"
    after: float = 0.3
    gap: float = 0.3

    def __post_init__(self) -> None:
        bad = [d for d in self.digits if d not in DTMF_DIGITS]
        if not self.digits or bad:
            raise ValueError(f"a caller can only press DTMF keys {DTMF_DIGITS}, not {self.digits!r}")


@dataclass(frozen=True)
class HangUp:
    """When the caller hangs up.

    `HangUp(after=30)`: 30 s of call time after the AGI connected. `HangUp(during="record",
    after=2)`: 2 s into the first RECORD FILE (any step name as for Press). `HangUp(during=
    "start")`: before the first command. `HangUp(following="answer")`: as soon as that step
    has replied, while the server is idle (Asterisk then sends `HANGUP` on its own line).
    """

    during: str | None = None
    after: float = 0.0
    following: str | None = None

    def __post_init__(self) -> None:
        if self.during is not None and self.following is not None:
            raise ValueError("a caller hangs up either during a step or following it, not both")


@dataclass(frozen=True)
class Caller:
    """What the person on the line does: keys, speech for each RECORD FILE (None is silence), hang-up.

    A caller with nothing scripted stays silent, presses nothing and never hangs up (until
    the peer's `max_call_seconds` of call time, when any real caller would have).
    """

    presses: Sequence[Press] = ()
    speech: Sequence[str | Path | None] | str | Path | None = ()
    speech_after: float = 0.5
    hangup: HangUp | None = None

    def __post_init__(self) -> None:
        presses = (self.presses,) if isinstance(self.presses, Press) else tuple(self.presses)
        speech = self.speech
        speech = () if speech is None else (speech,) if isinstance(speech, (str, Path)) else tuple(speech)
        object.__setattr__(self, "presses", presses)
        object.__setattr__(self, "speech", speech)

    @classmethod
    def from_options(cls, dtmf: str = "", audio: str | Path | None = None,
                     hangup_after: float | None = None) -> "Caller":
        """The caller of `simulate-call --dtmf D --audio WAV --hangup-after S`: one key per listening step."""
        return cls(presses=tuple(Press(key) for key in dtmf), speech=audio,
                   hangup=HangUp(after=hangup_after) if hangup_after is not None else None)


# --- the channel ------------------------------------------------------------------------------

_sequence = itertools.count(1)


def _next_channel_name() -> str:
    return f"PJSIP/operator-trunk-{next(_sequence):08x}"


def _next_uniqueid() -> str:
    """Asterisk's `<epoch>.<sequence>`, its sequence unique across processes too: Siaga112 takes a
    call's uniqueid as its identity, and `simulate-call`s started in the same second (each its own
    process) must not be one call."""
    return f"{int(time.time())}.{os.getpid() * 100_000 + next(_sequence) % 100_000}"


@dataclass(frozen=True)
class Channel:
    """What Asterisk knows about the call when it starts the AGI: it becomes the environment block.

    `caller_id=None` is a call without caller ID (`unknown`, presentation 67). `variables`
    holds the channel's variables and dialplan function values, e.g.
    `{"PJSIP_HEADER(read,Geolocation)": "<cid:...>", "CONNECTEDLINE(num)": "+62...",
    "AGIEXITONHANGUP": "yes"}`; anything absent reads as unset (`200 result=0`).
    """

    script: str = "ivr"
    args: Sequence[str] = ()
    name: str = field(default_factory=_next_channel_name)
    uniqueid: str = field(default_factory=_next_uniqueid)
    caller_id: str | None = "+6281234567890"
    caller_name: str | None = None
    context: str = "emergency"
    extension: str = "112"
    priority: int = 5
    language: str = "en"
    channel_type: str | None = None  # agi_type; from the name by default: "PJSIP/..." -> PJSIP
    calling_pres: int | None = None  # 0, or 67 when there is no caller ID at all
    dnid: str | None = None
    rdnis: str | None = None
    accountcode: str = ""
    threadid: int = 139836173686464
    version: str = ASTERISK_VERSION
    request: str | None = None       # agi_request; default agi://HOST:PORT/SCRIPT
    answered: bool = False           # an agent's leg is already up; a caller's rings until ANSWER
    variables: Mapping[str, str] = field(default_factory=dict)

    def env_lines(self, host: str, port: int) -> list[str]:
        """The environment block, in Asterisk's order, ending with the empty line."""
        script = self.script.lstrip("/")
        lines = ["agi_network: yes"]
        if script:
            lines.append(f"agi_network_script: {script}")
        if self.calling_pres is not None:
            presentation = self.calling_pres
        else:
            presentation = 67 if self.caller_id is None and self.caller_name is None else 0
        lines += [
            f"agi_request: {self.request or f'agi://{host}:{port}/{script}'}",
            f"agi_channel: {self.name}",
            f"agi_language: {self.language}",
            f"agi_type: {self.channel_type or self.name.split('/', 1)[0]}",
            f"agi_uniqueid: {self.uniqueid}",
            f"agi_version: {self.version}",
            f"agi_callerid: {'unknown' if self.caller_id is None else self.caller_id}",
            f"agi_calleridname: {'unknown' if self.caller_name is None else self.caller_name}",
            f"agi_callingpres: {presentation}",
            "agi_callingani2: 0",
            "agi_callington: 0",
            "agi_callingtns: 0",
            f"agi_dnid: {self.dnid or 'unknown'}",
            f"agi_rdnis: {self.rdnis or 'unknown'}",
            f"agi_context: {self.context}",
            f"agi_extension: {self.extension}",
            f"agi_priority: {self.priority}",
            "agi_enhanced: 0.0",
            f"agi_accountcode: {self.accountcode}",
            f"agi_threadid: {self.threadid}",
        ]
        lines += [f"agi_arg_{number}: {value}" for number, value in enumerate(self.args, 1)]
        return lines + [""]


def _variable_key(name: str) -> str:
    """Function names are case-insensitive in Asterisk (CALLERID(num) = callerid(num)); variables are not."""
    if name.endswith(")") and "(" in name:
        function, rest = name.split("(", 1)
        return f"{function.upper()}({rest}"
    return name


def _inheritance_stripped(name: str) -> str:
    """`__X` and `_X` set the variable X (inherited by channels it creates); GET VARIABLE X finds it."""
    return name[2:] if name.startswith("__") else name[1:] if name.startswith("_") else name


def _quoted_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


# --- prompts ----------------------------------------------------------------------------------

def default_sound_dirs() -> list[Path]:
    """The prompts shipped in this checkout (`config/asterisk/sounds`), if it is one."""
    shipped = Path(__file__).resolve().parents[1] / "config" / "asterisk" / "sounds"
    return [shipped] if shipped.is_dir() else []


class Sounds:
    """Where the peer learns how long a prompt plays, as Asterisk finds files in its sounds folders.

    STREAM FILE needs a prompt's length to say when it ends (`endpos`). A prompt is found as
    `<dir>/<language>/<name>.wav`, then `<dir>/en/<name>.wav`, then `<dir>/<name>.wav` (also
    `.sln`), or by an absolute path; `lengths` adds prompts by name (in samples). A prompt that
    is nowhere answers `200 result=-1 endpos=0`, like a missing file in Asterisk, unless
    `missing_length` gives every unknown prompt that length.
    """

    def __init__(self, dirs: Iterable[str | Path] | None = None, *, lengths: Mapping[str, int] | None = None,
                 missing_length: int | None = None) -> None:
        self.dirs = [Path(d) for d in (default_sound_dirs() if dirs is None else dirs)]
        self.lengths = {"beep": BEEP_SAMPLES, **(lengths or {})}
        self.missing_length = missing_length
        self._found: dict[tuple[str, str], int | None] = {}

    def samples(self, name: str, language: str = "en") -> int | None:
        """How many 8 kHz samples the prompt plays, or None if Asterisk would not find it."""
        if name in self.lengths:
            return self.lengths[name]
        key = (name, language)
        if key not in self._found:
            self._found[key] = self._measure(name, language)
        found = self._found[key]
        return self.missing_length if found is None else found

    def _measure(self, name: str, language: str) -> int | None:
        if name.startswith("/"):
            candidates = [Path(name)]
        else:
            candidates = [d / prefix / name for d in self.dirs for prefix in (language, "en", "")]
        for base in candidates:
            for extension in ("wav", "sln"):
                path = base.parent / f"{base.name}.{extension}"
                if path.is_file():
                    length = _sound_length(path)
                    if length is not None:
                        return length
        return None


def _sound_length(path: Path) -> int | None:
    if path.suffix == ".sln":
        return path.stat().st_size // 2
    try:
        with wave.open(str(path), "rb") as wav:
            return round(wav.getnframes() * RATE / wav.getframerate())
    except (wave.Error, EOFError, OSError):
        return None


# --- audio ------------------------------------------------------------------------------------

def load_audio(path: str | Path) -> np.ndarray:
    """Any WAV (or, through sox, anything sox reads) as 8 kHz mono 16-bit samples, for the caller's voice."""
    path = Path(path)
    return _load_audio(str(path), path.stat().st_mtime_ns).copy()


@lru_cache(maxsize=32)
def _load_audio(path: str, mtime_ns: int) -> np.ndarray:
    try:
        with wave.open(path, "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError):
        return _load_with_sox(path)
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        wide = (bytes3[:, 0].astype(np.int32) | (bytes3[:, 1].astype(np.int32) << 8)
                | (bytes3[:, 2].astype(np.int32) << 16))
        samples = (np.where(wide & 0x800000, wide - 0x1000000, wide) / 256.0).astype(np.float64)
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    else:
        raise ValueError(f"{path}: {width * 8}-bit samples are not PCM this peer can read")
    samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        from scipy.signal import resample_poly  # imported only when a file needs it: scipy loads slowly

        common = math.gcd(RATE, rate)
        samples = resample_poly(samples, RATE // common, rate // common)
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def _load_with_sox(path: str) -> np.ndarray:
    sox = shutil.which("sox")
    if sox is None:
        raise ValueError(f"{path} is not a PCM WAV file, and sox is not installed to convert it")
    try:
        done = subprocess.run([sox, path, "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16",
                               "-e", "signed-integer", "-L", "-"], capture_output=True, check=True, timeout=120)
    except subprocess.CalledProcessError as error:
        raise ValueError(f"sox could not read {path}: {error.stderr.decode(errors='replace').strip()}") from None
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.int16)


class _AudioFile:
    """A recording Asterisk writes: WAV with zero sizes in its header until closed, or raw slin.

    Data goes to disk as it comes (a live transcriber can read the file while it grows), and
    the header gets its real sizes when the file is closed, as Asterisk's format_wav does.
    """

    def __init__(self, path: Path, *, wav: bool, keep_samples: int = 0) -> None:
        self.path = path
        self.wav = wav
        self.header = 44 if wav else 0
        kept = b""
        if keep_samples > 0 and path.exists():
            with open(path, "rb") as old:
                old.seek(self.header)
                kept = old.read(keep_samples * 2)
        self._file = open(path, "wb")
        self.samples = len(kept) // 2
        try:
            if wav:
                self._file.write(_wav_header(0))
            self._file.write(kept)
            self._file.flush()
        except OSError as error:
            self._fail(error)

    # A full disk does not stop a call: Asterisk logs the failed write and the channel goes on,
    # leaving the file as far as it got. So does this peer.
    failed = False

    def append(self, samples: np.ndarray, *, flush: bool = True) -> None:
        if self.failed:
            return
        try:
            self._file.write(samples.astype("<i2").tobytes())
            if flush:
                self._file.flush()
        except OSError as error:
            self._fail(error)
            return
        self.samples += len(samples)

    def truncate(self, samples: int) -> None:
        self.samples = max(0, min(samples, self.samples))
        try:
            self._file.seek(self.header + self.samples * 2)
            self._file.truncate()
            self._file.flush()
        except OSError as error:
            self._fail(error)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            if self.wav:
                self._file.seek(0)
                self._file.write(_wav_header(self.samples * 2))
            self._file.close()
        except OSError as error:
            self._fail(error)
            with suppress(OSError):
                self._file.close()

    def _fail(self, error: OSError) -> None:
        self.failed = True
        log.warning("cannot write %s: %s (the call goes on)", self.path, error)


def _wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of an 8 kHz mono 16-bit PCM WAV."""
    return (b"RIFF" + (36 + data_bytes).to_bytes(4, "little") + b"WAVEfmt "
            + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
            + RATE.to_bytes(4, "little") + (RATE * 2).to_bytes(4, "little")
            + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
            + b"data" + data_bytes.to_bytes(4, "little"))


class _Voice:
    """The audio the caller sends during one RECORD FILE: silence, their speech, then silence."""

    def __init__(self, speech: np.ndarray | None, lead_in_seconds: float) -> None:
        lead_in = np.zeros(round(lead_in_seconds * RATE), dtype=np.int16)
        self.samples = lead_in if speech is None else np.concatenate([lead_in, speech])
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def frame(self, index: int) -> np.ndarray:
        start = index * FRAME_SAMPLES
        if start >= len(self.samples):
            return self._silence
        chunk = self.samples[start:start + FRAME_SAMPLES]
        return chunk if len(chunk) == FRAME_SAMPLES else np.concatenate(
            [chunk, np.zeros(FRAME_SAMPLES - len(chunk), dtype=np.int16)])


# --- what the peer records --------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line on the wire: `A->S` is Asterisk to the server, `S->A` the server to Asterisk."""

    at: datetime
    direction: str
    data: bytes


@dataclass(frozen=True)
class Exchange:
    """One command the server sent, when (wall clock and call time), and everything answered to it."""

    received_at: datetime
    call_time: float
    line: str
    reply: str


@dataclass(frozen=True)
class Recording:
    """A file RECORD FILE wrote, its length in samples (`endpos`) and what stopped it."""

    path: Path
    format: str
    endpos: int
    stopped_by: str  # timeout (silence or time limit), dtmf, hangup


@dataclass
class AgiRecord:
    """Everything one AGI session did, for tests to assert on.

    `agi_status` is what Asterisk would set in AGISTATUS: SUCCESS, FAILURE (connection refused,
    a failed command on a live channel, or a `failure` line) or HANGUP (the caller hung up).
    `closed_by` says how the session ended: "server" (it closed the socket), "peer" (Asterisk
    ends it: AGIEXITONHANGUP or `failure`), "timeout" (the server went silent for `timeout`
    seconds; a real Asterisk would wait for ever) or "error" (see `error`).
    """

    host: str
    port: int
    agi_status: str = "SUCCESS"
    env: dict[str, str] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    variables_set: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    verbose: list[str] = field(default_factory=list)
    executed: list[tuple[str, str, int]] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    mix_files: list[Path] = field(default_factory=list)
    lost_digits: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    hung_up_by: str | None = None      # "caller" or "agi"
    closed_by: str | None = None
    error: str | None = None

    @property
    def commands(self) -> list[str]:
        return [exchange.line for exchange in self.exchanges]

    @property
    def timed_out(self) -> bool:
        return self.closed_by == "timeout"

    def value(self, name: str) -> str | None:
        """The last value the server SET for `name` (with or without the `__` inheritance prefix)."""
        wanted = _variable_key(_inheritance_stripped(name))
        for set_name, value in reversed(self.variables_set):
            if _variable_key(_inheritance_stripped(set_name)) == wanted:
                return value
        return None


@dataclass(frozen=True)
class _Heard:
    """How a stretch of call time ended: it ran out, a key came, or the caller hung up."""

    kind: str  # "timeout", "digit", "hangup"
    digit: str | None = None

    @property
    def result(self) -> int:
        """What Asterisk reports: the key's ASCII code, 0 when time ran out, -1 when the caller hung up."""
        return ord(self.digit) if self.kind == "digit" else 0 if self.kind == "timeout" else -1


@dataclass(frozen=True)
class _Outcome:
    reply: str
    failed: bool = False  # res_agi's RESULT_FAILURE: AGISTATUS becomes FAILURE on a live channel


_USAGE = _Outcome("")


# --- the peer ---------------------------------------------------------------------------------

class AsteriskPeer:
    """One call into a FastAGI server, answered as Asterisk 22 answers it. `await peer.run()`.

    `timeout` bounds every real wait for the server (its next command, a write); `connect_timeout`
    is Asterisk's 2 s FastAGI connect limit. Call time is simulated unless `realtime`: prompts,
    waits and recordings then take no real time, and call time stands still while the server
    thinks (so a `HangUp(after=...)` lands in whichever command spans that moment). With
    `realtime=True` everything takes as long as on a phone. `max_call_seconds` of call time is
    when the caller gives up, so a wait "for ever" ends. `files_root`, when set, receives every
    file Asterisk would write (absolute paths are placed under it), so a test can replay
    production paths.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 4573, channel: Channel | None = None,
                 caller: Caller | None = None, *, realtime: bool = False, timeout: float = 10.0,
                 connect_timeout: float = 2.0, max_call_seconds: float = 900.0,
                 sounds: Sounds | None = None, files_root: str | Path | None = None) -> None:
        self.host = host
        self.port = port
        self.channel = channel or Channel()
        self.caller = caller or Caller()
        self.realtime = realtime
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_call_seconds = max_call_seconds
        self.sounds = sounds or Sounds()
        self.files_root = Path(files_root) if files_root is not None else None
        self.record = AgiRecord(host=host, port=port)

        self._vars: dict[str, str] = {}
        for name, value in self.channel.variables.items():
            self._vars[_variable_key(name)] = str(value)
        self._vars.setdefault("CALLERID(num)", self.channel.caller_id or "")
        self._vars.setdefault("CALLERID(name)", self.channel.caller_name or "")
        self._state = 6 if self.channel.answered else 4  # AST_STATE_UP, AST_STATE_RING
        self._status = "SUCCESS"
        self._hung_up = False      # the channel is gone
        self._dead = False         # ... and the AGI has said so (HANGUP sent): 511 from now on
        self._notice_due = False   # a HANGUP line is owed before the next reply
        self._finished = False

        self._clock = 0.0
        self._t0 = 0.0
        self._keys: list[tuple[float, str]] = []
        self._hangup_at = math.inf
        self._presses = list(self.caller.presses)
        self._hangup_rule = self.caller.hangup
        self._labels: set[str] = set()
        self._recordings_made = 0
        self._mixes: list[_AudioFile] = []

        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Future | None = None
        self._hangup_requested = asyncio.Event()  # binds to the event loop on first use
        self._hangup_waiter: asyncio.Future | None = None

    # --- the session ---------------------------------------------------------------------

    async def run(self) -> AgiRecord:
        """Connect, talk until the server closes (or the caller's AGI ends), and return the record."""
        loop = asyncio.get_running_loop()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout)
        except (OSError, TimeoutError) as error:
            # Asterisk logs two warnings and sets AGISTATUS=FAILURE; the dialplan goes on.
            self.record.agi_status = "FAILURE"
            self.record.closed_by = "error"
            self.record.error = f"cannot connect to {self.host}:{self.port}: {error or 'timed out'}"
            return self.record
        self._t0 = loop.time()
        self._hangup_waiter = asyncio.ensure_future(self._hangup_requested.wait())
        try:
            await self._converse()
        except (ConnectionError, TimeoutError) as error:
            self.record.closed_by = self.record.closed_by or "error"
            self.record.error = f"the connection failed: {error.__class__.__name__}: {error}"
        finally:
            await self._close()
        return self.record

    def hang_up(self) -> None:
        """The caller hangs up now (call it from the peer's event loop): mid-command or while the server is idle."""
        self._hangup_requested.set()

    async def _converse(self) -> None:
        env = self.channel.env_lines(self.host, self.port)
        self.record.env = dict(line.split(": ", 1) for line in env if line)
        await self._send("".join(line + "\n" for line in env))
        if self._hangup_rule is not None:
            if self._hangup_rule.during == "start":
                await self._hang_up_idle("caller")
            elif self._hangup_rule.during is None and self._hangup_rule.following is None:
                self._hangup_at = self._hangup_rule.after
        while not self._finished:
            line = await self._next_line()
            if line is None:
                break
            await self._handle(line)
        if self.record.closed_by != "timeout" and not _is_false(self._read("AGISIGHUP")):
            # run_agi ends by telling a FastAGI server HANGUP, even one that has closed.
            with suppress(ConnectionError, TimeoutError):
                await self._send("HANGUP\n")

    async def _next_line(self) -> bytes | None:
        """The server's next command; meanwhile the caller may hang up (Asterisk then sends HANGUP)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            if self._read_task is None:
                self._read_task = asyncio.ensure_future(self._reader.readline())
            waiting = {self._read_task}
            limit = deadline - loop.time()
            if not self._hung_up:
                waiting.add(self._hangup_waiter)
                if self.realtime:
                    limit = min(limit, self._hangup_deadline() - self._now())
            done, _ = await asyncio.wait(waiting, timeout=max(limit, 0.0), return_when=asyncio.FIRST_COMPLETED)
            if self._read_task in done:
                task, self._read_task = self._read_task, None
                try:
                    line = task.result()
                except ValueError:  # a line beyond the stream limit: no Asterisk command is that long
                    self.record.closed_by = "error"
                    self.record.error = "the server sent a line longer than 64 KiB"
                    return None
                if not line:
                    self.record.closed_by = "server"
                    return None
                return line
            if not self._hung_up and (self._hangup_requested.is_set()
                                      or (self.realtime and self._now() >= self._hangup_deadline())):
                await self._hang_up_idle("caller")
                if self._finished:
                    return None
                continue
            if loop.time() >= deadline:
                self.record.closed_by = "timeout"
                log.warning("FastAGI server %s:%s sent nothing for %.1f s; the peer gives up",
                            self.host, self.port, self.timeout)
                return None

    async def _handle(self, raw: bytes) -> None:
        self._log("S->A", raw)
        text = (raw[:-1] if raw.endswith(b"\n") else raw).decode("utf-8", "surrogateescape")
        if text[:7].lower() == "failure":
            self._status = "FAILURE"   # the special line of an AGI that could not start
            self.record.closed_by = "peer"
            self._finished = True
            return
        received_at, call_time = _utcnow(), self._now()
        reply = ""
        if self._notice_due:
            # Asterisk notices a hang-up that ended the previous command only now.
            reply += await self._announce_hangup()
            if self._finished:
                return
        command = parse_command(text)
        self._begin_step(self._labels_for(command))
        reply_text = await self._execute(command)
        reply += reply_text
        await self._send(reply_text)
        self.record.exchanges.append(Exchange(received_at, call_time, text, reply))
        if self._notice_due and self.record.hung_up_by == "agi":
            await self._announce_hangup()   # the server hung up: the idle loop says so at once
        elif (self._hangup_rule is not None and self._hangup_rule.following in self._labels
              and not self._hung_up):
            await self._hang_up_idle("caller")

    async def _execute(self, command: AgiCommand) -> str:
        spec = _COMMANDS.get(command.name) if command.name else None
        if spec is None:
            return UNKNOWN_COMMAND
        if self._dead and not spec.runs_dead:
            return DEAD_CHANNEL
        if not spec.simulated:
            log.warning("the Asterisk peer does not simulate %s; it answers 510", command.name)
            self.record.unsupported.append(command.name)
            return UNKNOWN_COMMAND
        if not self.realtime:
            await asyncio.sleep(0)  # let other peers of a load test run between commands
        handler = getattr(self, "_cmd_" + command.name.lower().replace(" ", "_"))
        outcome = await handler(command.argv)
        if outcome is _USAGE:
            return USAGE_START + spec.usage + USAGE_END
        if outcome.failed and (self._dead or not self._hung_up):
            self._status = "FAILURE"
        return outcome.reply

    async def _close(self) -> None:
        for mix in self._mixes:
            mix.close()
        for task in (self._read_task, self._hangup_waiter):
            if task is not None and not task.done():
                task.cancel()
        if self._writer is not None:
            self._writer.close()
            with suppress(ConnectionError, TimeoutError, OSError):
                await asyncio.wait_for(self._writer.wait_closed(), self.timeout)
        self.record.agi_status = self._status
        self.record.variables = dict(self._vars)

    # --- hang-up -------------------------------------------------------------------------

    def _mark_hung_up(self, by: str) -> None:
        if self._hung_up:
            return
        self._hung_up = True
        self._notice_due = True   # announced at once when idle, else before the next reply
        self.record.hung_up_by = by
        self._vars.setdefault("HANGUPCAUSE", "16")
        if self._status == "SUCCESS":
            self._status = "HANGUP"

    async def _hang_up_idle(self, by: str) -> None:
        self._mark_hung_up(by)
        await self._announce_hangup()

    async def _announce_hangup(self) -> str:
        """Send the HANGUP line (unless AGISIGHUP=no); from now on channel commands answer 511."""
        self._notice_due = False
        self._dead = True
        sent = ""
        if not _is_false(self._read("AGISIGHUP")):
            sent = "HANGUP\n"
            await self._send(sent)
        if _is_true(self._read("AGIEXITONHANGUP")):
            self.record.closed_by = "peer"
            self._finished = True
        return sent

    def _hangup_deadline(self) -> float:
        return min(self._hangup_at, self.max_call_seconds)

    # --- call time -----------------------------------------------------------------------

    def _now(self) -> float:
        if self.realtime:
            return asyncio.get_running_loop().time() - self._t0
        return self._clock

    def _labels_for(self, command: AgiCommand) -> set[str]:
        """The step names a Press or HangUp can refer to for this command."""
        if command.name is None:
            return set()
        labels = {command.name.lower()}
        argv = command.argv
        if command.name == "STREAM FILE" and len(argv) > 2:
            if argv[2]:
                labels |= {argv[2], argv[2].rsplit("/", 1)[-1], "prompt"}
            if len(argv) > 3 and argv[3]:
                labels.add("listen")
        elif command.name == "WAIT FOR DIGIT":
            labels |= {"wait", "listen"}
        elif command.name == "RECORD FILE":
            labels.add("record")
            if len(argv) > 4 and argv[4]:
                labels.add("listen")
        elif command.name == "EXEC" and len(argv) > 1:
            labels.add(argv[1].lower())
            if argv[1].lower() == "playback" and len(argv) > 2:
                for name in argv[2].split(",")[0].split("&"):
                    labels |= {name, name.rsplit("/", 1)[-1], "prompt"}
        return labels

    def _begin_step(self, labels: set[str]) -> None:
        """A command starts: keys and hang-ups scripted for this step are put on the call's timeline."""
        self._labels = labels
        start = self._now()
        used: set[str] = set()
        for press in list(self._presses):
            if press.during in labels and press.during not in used:
                used.add(press.during)
                self._presses.remove(press)
                for number, digit in enumerate(press.digits):
                    self._keys.append((start + press.after + number * press.gap, digit))
        self._keys.sort(key=lambda key: key[0])
        rule = self._hangup_rule
        if rule is not None and rule.during in labels and rule.during != "start":
            self._hangup_at = min(self._hangup_at, start + rule.after)
            self._hangup_rule = None
        # Keys pressed while nobody listened (the AGI idle loop reads and drops them) are lost.
        while self._keys and self._keys[0][0] < start:
            self.record.lost_digits.append(self._keys.pop(0)[1])

    async def _wait_until(self, end: float, accept: str) -> _Heard:
        """Let call time run to `end` unless a key in `accept` comes, or the caller hangs up, first.

        Keys outside `accept` are dropped: Asterisk discards DTMF nobody is waiting for.
        """
        while True:
            if self._hung_up:
                return _Heard("hangup")
            if self._hangup_requested.is_set():
                self._mark_hung_up("caller")
                return _Heard("hangup")
            hangup_at = self._hangup_deadline()
            key_at = self._keys[0][0] if self._keys else math.inf
            first = min(hangup_at, key_at)
            if first >= end:
                if await self._pass_time(end):
                    continue
                return _Heard("timeout")
            if await self._pass_time(first):
                continue
            if hangup_at <= key_at:
                self._mark_hung_up("caller")
                return _Heard("hangup")
            _, digit = self._keys.pop(0)
            if digit in accept:
                return _Heard("digit", digit)
            self.record.lost_digits.append(digit)

    async def _pass_time(self, until: float) -> bool:
        """Move call time to `until`; True if an outside hang-up request came first (realtime only)."""
        if not self.realtime:
            self._clock = max(self._clock, until)
            return False
        delay = until - self._now()
        if delay <= 0:
            return False
        done, _ = await asyncio.wait({self._hangup_waiter}, timeout=delay)
        return bool(done)

    async def _listen(self, seconds: float | None, accept: str) -> tuple[_Heard, float]:
        """Listen for `seconds` of call time (None: until the caller gives up); how it ended and how long it took."""
        start = self._now()
        heard = await self._wait_until(math.inf if seconds is None else start + seconds, accept)
        elapsed = self._now() - start
        self._mix_silence(elapsed)
        return heard, elapsed

    # --- channel variables ---------------------------------------------------------------

    def _read(self, name: str) -> str | None:
        """A variable or function value as GET VARIABLE sees it; None when unset or unknown."""
        key = _variable_key(name)
        if key in self._vars:
            return self._vars[key]
        if key == "CALLERID(all)":
            return _callerid_all(self._vars["CALLERID(name)"], self._vars["CALLERID(num)"])
        builtins = {"CHANNEL": self.channel.name, "UNIQUEID": self.channel.uniqueid,
                    "CONTEXT": self.channel.context, "EXTEN": self.channel.extension,
                    "PRIORITY": str(self.channel.priority), "EPOCH": str(int(time.time())),
                    "CHANNEL(name)": self.channel.name, "CHANNEL(language)": self.channel.language}
        return builtins.get(key)

    def _set(self, name: str, value: str) -> None:
        self.record.variables_set.append((name, value))
        self._vars[_variable_key(_inheritance_stripped(name))] = value

    def _substitute(self, text: str) -> str:
        """`${...}` expansion as GET FULL VARIABLE does it, nested; unset names expand to nothing."""
        out, index = [], 0
        while index < len(text):
            start = text.find("${", index)
            if start < 0:
                out.append(text[index:])
                break
            out.append(text[index:start])
            depth, cursor = 1, start + 2
            while cursor < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[cursor], 0)
                cursor += 1
            inner = text[start + 2:cursor - 1] if depth == 0 else text[start + 2:]
            out.append(self._read(self._substitute(inner)) or "")
            index = cursor
        return "".join(out)

    # --- files ---------------------------------------------------------------------------

    def _file_path(self, name: str) -> Path:
        path = Path(name)
        if self.files_root is None:
            return path
        return self.files_root / (path.relative_to(path.anchor) if path.is_absolute() else path)

    def _mix_silence(self, seconds: float) -> None:
        if self._mixes and seconds > 0:
            self._mix_audio(np.zeros(round(seconds * RATE), dtype=np.int16))

    def _mix_audio(self, samples: np.ndarray) -> None:
        for mix in self._mixes:
            mix.append(samples, flush=self.realtime)

    # --- the wire ------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        for line in data.splitlines(keepends=True):
            self._log("A->S", line)
        self._writer.write(data)
        await asyncio.wait_for(self._writer.drain(), self.timeout)

    def _log(self, direction: str, data: bytes) -> None:
        self.record.lines.append(Line(_utcnow(), direction, data))

    # --- commands (each returns what Asterisk answers; argv as res_agi hands it over) -----

    async def _cmd_answer(self, argv: tuple[str, ...]) -> _Outcome:
        self._state = 6
        return _Outcome("200 result=0\n")

    async def _cmd_channel_status(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) == 2:
            return _Outcome(f"200 result={self._state}\n")
        if len(argv) == 3:
            return _Outcome(f"200 result={self._state if argv[2] == self.channel.name else -1}\n")
        return _USAGE

    async def _cmd_hangup(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) > 2:
            return _USAGE
        if len(argv) == 2 and argv[1] != self.channel.name:
            return _Outcome("200 result=-1\n")
        self._mark_hung_up("agi")
        return _Outcome("200 result=1\n")

    async def _cmd_noop(self, argv: tuple[str, ...]) -> _Outcome:
        return _Outcome("200 result=0\n")

    async def _cmd_verbose(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) < 2:
            return _USAGE
        self.record.verbose.append(argv[1])
        return _Outcome("200 result=1\n")

    async def _cmd_get_variable(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) != 3:
            return _USAGE
        value = self._read(argv[2])
        return _Outcome("200 result=0\n" if value is None else f"200 result=1 ({value})\n")

    async def _cmd_get_full_variable(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) not in (4, 5):
            return _USAGE
        if len(argv) == 5 and argv[4] != self.channel.name:
            return _Outcome("200 result=0\n")  # no such channel on this peer
        return _Outcome(f"200 result=1 ({self._substitute(argv[3])})\n")

    async def _cmd_set_variable(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) != 4:
            return _USAGE
        self._set(argv[2], argv[3])
        return _Outcome("200 result=1\n")

    async def _cmd_exec(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) < 2:
            return _USAGE
        data = argv[2] if len(argv) > 2 else ""
        app = _APPLICATIONS.get(argv[1].lower())
        if app is None:
            log.warning("EXEC %s: no such application (this peer knows %s)", argv[1], ", ".join(sorted(_APPLICATIONS)))
            result = -2
        else:
            result = await getattr(self, app)(data)
        self.record.executed.append((argv[1], data, result))
        # handle_exec hands the application's result back as its own: -1 and -2 are not failures.
        return _Outcome(f"200 result={result}\n")

    async def _cmd_stream_file(self, argv: tuple[str, ...]) -> _Outcome:
        if not 4 <= len(argv) <= 5:
            return _USAGE
        offset = 0
        if len(argv) == 5:
            offset = _scan_int(argv[4])
            if offset is None:
                return _USAGE
        heard, endpos = await self._play(argv[2], argv[3], offset)
        result = -1 if heard is None else heard.result
        self._vars["PLAYBACKSTATUS"] = "SUCCESS" if result == 0 else "FAILED"
        return _Outcome(f"200 result={result} endpos={endpos}\n", failed=result < 0)

    async def _cmd_wait_for_digit(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) != 4:
            return _USAGE
        timeout_ms = _scan_int(argv[3])
        if timeout_ms is None:
            return _USAGE
        heard, _ = await self._listen(None if timeout_ms < 0 else timeout_ms / 1000, DTMF_DIGITS)
        return _Outcome(f"200 result={heard.result}\n", failed=heard.result < 0)

    async def _cmd_record_file(self, argv: tuple[str, ...]) -> _Outcome:
        if len(argv) < 6:
            return _USAGE
        max_ms = _scan_int(argv[5])
        if max_ms is None:
            return _USAGE
        escape = argv[4]
        silence_ms = _silence_option(argv[6:9])
        offset, beep = 0, False
        if len(argv) > 6:
            scanned = _scan_int(argv[6])
            if scanned is not None:
                offset = scanned
            elif "=" not in argv[6]:
                beep = True
        if len(argv) > 7 and "=" not in argv[7]:
            beep = True
        if beep:
            heard, _ = await self._listen(BEEP_SAMPLES / RATE, escape)
            if heard.result:
                return _Outcome(f"200 result={heard.result} (randomerror) endpos={offset}\n")

        target = self._file_path(f"{argv[2]}.{argv[3]}")
        writer = self._open_recording(target, argv[3], offset)
        if writer is None:
            return _Outcome("200 result=-1 (writefile)\n", failed=True)
        voice = self._next_voice()
        start, frames, silent_ms = self._now(), 0, 0
        stopped_by, result = "timeout", 0
        while max_ms < 0 or frames * FRAME_MS < max_ms:
            heard = await self._wait_until(start + (frames + 1) * FRAME_SECONDS, escape)
            if heard.kind == "hangup":
                stopped_by, result = "hangup", -1
                break
            if heard.kind == "digit":
                # Chop the bit of key tone that reached the file (res_agi rewinds 200 ms).
                writer.truncate(writer.samples - 200 * RATE // 1000)
                stopped_by, result = "dtmf", ord(heard.digit)
                break
            samples = voice.frame(frames)
            frames += 1
            writer.append(samples, flush=self.realtime or frames % 50 == 0)
            self._mix_audio(samples)
            if silence_ms > 0:
                quiet = np.abs(samples.astype(np.int32)).mean() < SILENCE_THRESHOLD
                silent_ms = silent_ms + FRAME_MS if quiet else 0
                if silent_ms > silence_ms:
                    writer.truncate(writer.samples - (silence_ms - 1000) * RATE // 1000)
                    break
            if not self.realtime and frames % 50 == 0:
                await asyncio.sleep(0)
        if stopped_by == "timeout":
            # The number is whatever Asterisk's last wait left of the time limit: meaningless.
            result = max(1, max_ms - frames * FRAME_MS) if max_ms >= 0 else 99980
        writer.close()
        self.record.recordings.append(Recording(target, argv[3], writer.samples, stopped_by))
        return _Outcome(f"200 result={result} ({stopped_by}) endpos={writer.samples}\n",
                        failed=stopped_by == "hangup")

    # --- helpers of the commands -----------------------------------------------------------

    async def _play(self, name: str, escape: str, offset: int = 0) -> tuple[_Heard | None, int]:
        """Play a prompt, interruptible by `escape` keys: how it ended (None: no such prompt) and endpos."""
        length = self.sounds.samples(name, self.channel.language)
        if length is None:
            log.info("prompt %s not found in %s", name, [str(d) for d in self.sounds.dirs])
            return None, offset
        self.record.played.append(name)
        offset = min(max(offset, 0), length)
        heard, elapsed = await self._listen((length - offset) / RATE, escape)
        if heard.kind == "timeout":
            return heard, length
        played = math.ceil(round(elapsed * RATE, 6) / FRAME_SAMPLES) * FRAME_SAMPLES
        return heard, min(length, offset + played)

    def _open_recording(self, path: Path, fmt: str, offset: int) -> _AudioFile | None:
        if fmt not in ("wav", "sln", "raw"):
            log.warning("RECORD FILE in format %r: this peer writes wav and sln only", fmt)
            return None
        try:
            return _AudioFile(path, wav=fmt == "wav", keep_samples=offset)
        except OSError as error:
            # Asterisk does not create folders for RECORD FILE: a missing one is "(writefile)".
            log.info("RECORD FILE cannot write %s: %s", path, error)
            return None

    def _next_voice(self) -> _Voice:
        index = self._recordings_made
        self._recordings_made += 1
        source = self.caller.speech[index] if index < len(self.caller.speech) else None
        return _Voice(None if source is None else load_audio(source), self.caller.speech_after)

    # --- dialplan applications for EXEC ---------------------------------------------------

    async def _app_mixmonitor(self, data: str) -> int:
        name = data.split(",")[0]
        if not name:
            return -1
        path = self._file_path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # MixMonitor creates its folder
            self._mixes.append(_AudioFile(path, wav=path.suffix.lower() == ".wav"))
        except OSError as error:
            log.info("MixMonitor cannot write %s: %s", path, error)
            return -1
        self.record.mix_files.append(path)
        self._vars["MIXMONITOR_FILENAME"] = name if name.startswith("/") else str(path)
        return 0

    async def _app_playback(self, data: str) -> int:
        if self._hung_up:
            return -1
        self._state = 6  # Playback answers the channel first
        status = "SUCCESS"
        for name in data.split(",")[0].split("&"):
            heard, _ = await self._play(name, "")
            if heard is None:
                status = "FAILED"  # Playback warns about a missing file and goes on
            elif heard.kind == "hangup":
                return -1
        self._vars["PLAYBACKSTATUS"] = status
        return 0



# The applications the IVR runs with EXEC (and Playback, which the captured session used).
_APPLICATIONS = {"mixmonitor": "_app_mixmonitor", "playback": "_app_playback"}


def _silence_option(words: Sequence[str]) -> int:
    """RECORD FILE's `s=N` (seconds of silence that end the recording), found as res_agi finds it, in ms."""
    found = None
    for word in words:
        if "s" in word:
            found = word[word.index("s"):]
            break
    if found is None or len(found) <= 2 or not found.startswith("s="):
        return 0
    seconds = _atoi(found[2:])
    return seconds * 1000 if seconds > 0 else 0


def _callerid_all(name: str, number: str) -> str:
    """CALLERID(all): `"name" <number>`, or whichever of the two exists."""
    if name and number:
        return f'"{_quoted_name(name)}" <{number}>'
    return name or number or ""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- blocking use and the fail-open probe -----------------------------------------------------

_T = TypeVar("_T")


def _run_blocking(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to the end from plain code, even from inside a running event loop (in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_call(host: str = "127.0.0.1", port: int = 4573, channel: Channel | None = None,
             caller: Caller | None = None, **options: Any) -> AgiRecord:
    """Place one call and wait for the AGI to end; `options` as for AsteriskPeer."""
    return _run_blocking(AsteriskPeer(host, port, channel, caller, **options).run())


async def connect_status(host: str, port: int, *, timeout: float = 2.0) -> str:
    """The AGISTATUS Asterisk would set for this FastAGI address before any script runs.

    "FAILURE" when the connection is refused or does not complete within `timeout` (Asterisk
    gives up after 2 s), which is when the dialplan must queue the caller without the IVR;
    "SUCCESS" when it connects (the probe closes again without sending an environment).
    """
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return "FAILURE"
    writer.close()
    with suppress(ConnectionError, OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return "SUCCESS"


def fail_open_check(host: str = "127.0.0.1", port: int = 4573, *, timeout: float = 2.0) -> str:
    """Blocking `connect_status`: "FAILURE" if Asterisk could not reach the FastAGI server."""
    return _run_blocking(connect_status(host, port, timeout=timeout))


__all__ = [
    "AgiCommand", "AgiRecord", "AsteriskPeer", "Caller", "Channel", "Exchange", "HangUp", "Line", "Press",
    "Recording", "Sounds", "connect_status", "default_sound_dirs", "fail_open_check", "load_audio",
    "parse_command", "run_call",
]
