"""The pyst2-backed session against raw Asterisk reply lines (AGI-NOTES and the shared transcripts)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from ivr.connection import AgiConnection
from ivr.session import AgiCommandFailed, AgiHangup, AgiProtocolError, AgiRefused, AgiSession, RecordResult


class Wire(asyncio.Transport):
    """The write side of a socket, keeping what the session sent."""

    def __init__(self):
        super().__init__()
        self.sent = io.BytesIO()

    def write(self, data):
        self.sent.write(data)

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 4573) if name == "peername" else default

    def is_closing(self):
        return False

    def close(self):
        pass


def talk(lines: list[str], action):
    """Run `await action(session)` against Asterisk sending `lines`; return (its result, the wire)."""

    async def main():
        connection = AgiConnection(line_limit=64 * 1024)
        wire = Wire()
        connection.connection_made(wire)
        connection.feed("".join(line + "\n" for line in lines).encode(), eof=True)
        return await action(AgiSession(connection, command_timeout=1.0)), wire

    return asyncio.run(main())


# (method, arguments, raw lines from Asterisk, the value the session returns)
REPLIES = [
    ("get_variable", ("CALLERID(num)",), ["200 result=1 (+6281234567890)"], "+6281234567890"),
    ("get_variable", ("CALLERID(num)",), ["200 result=1 ()"], ""),
    ("get_variable", ("NO_SUCH_VAR",), ["200 result=0"], None),
    ("get_variable", ("X",), ["200 result=1 (hangup)"], "hangup"),
    ("get_variable", ("X",), ["200 result=1 (a (b) c=d)"], "a (b) c=d"),
    ("get_full_variable", ("${CALLERID(all)}",),
     ['200 result=1 ("Budi Santoso" <+6281234567890> Local/112@emergency-00000169;2)'],
     '"Budi Santoso" <+6281234567890> Local/112@emergency-00000169;2'),
    ("stream_file", ("beep", "12"), ["200 result=0 endpos=3404"], None),
    ("stream_file", ("beep", "12"), ["200 result=50 endpos=1200"], "2"),
    ("wait_for_digit", (5000,), ["200 result=0"], None),
    ("wait_for_digit", (5000,), ["200 result=53"], "5"),
    ("record_file", ("/r/x",), ["200 result=8841 (timeout) endpos=68972"], RecordResult("timeout", None, 68972)),
    ("record_file", ("/r/x",), ["200 result=1 (timeout) endpos=64332"], RecordResult("timeout", None, 64332)),
    ("record_file", ("/r/x",), ["200 result=35 (dtmf) endpos=1000"], RecordResult("dtmf", "#", 1000)),
    ("exec_app", ("MixMonitor", "/r/x.wav"), ["200 result=0"], 0),
    ("channel_status", (), ["200 result=6"], 6),
    ("answer", (), ["HANGUP", "200 result=0"], None),
]


@pytest.mark.parametrize("method, args, lines, expected", REPLIES, ids=[f"{r[0]}-{r[2][-1]}" for r in REPLIES])
def test_replies_as_asterisk_sends_them_read_right(method, args, lines, expected):
    result, _wire = talk(lines, lambda session: getattr(session, method)(*args))
    assert result == expected


@pytest.mark.parametrize("method, args, lines, error", [
    ("stream_file", ("beep",), ["HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"], AgiHangup),
    ("stream_file", ("beep",), ["200 result=-1 endpos=0", "HANGUP", "511 Command Not Permitted"], AgiHangup),
    ("stream_file", ("missing",), ["200 result=-1 endpos=0", "200 result=6"], AgiCommandFailed),
    ("record_file", ("/r/x",), ["200 result=-1 (hangup) endpos=800"], AgiHangup),
    ("record_file", ("/r/x",), ["200 result=-1 (writefile)", "200 result=6"], AgiCommandFailed),
    ("exec_app", ("NoSuchApplication", "foo"), ["200 result=-2"], AgiCommandFailed),
    ("verbose", ("x",), ["510 Invalid or unknown command"], AgiCommandFailed),
    ("stream_file", ("beep",), ["520-Invalid command syntax.  Proper usage follows:", "Send the given file...",
                                "    <value>FAILED</value>", "520 End of proper usage."], AgiCommandFailed),
    ("answer", (), ["this is not agi"], AgiProtocolError),
    ("answer", (), [], AgiHangup),
])
def test_failures_are_told_apart_hang_up_command_failure_and_garbage(method, args, lines, error):
    with pytest.raises(error):
        talk(lines, lambda session: getattr(session, method)(*args))


def test_usage_reply_is_read_to_its_end_and_the_next_reply_is_the_next_commands():
    async def action(session):
        with pytest.raises(AgiCommandFailed):
            await session.command("STREAM FILE")
        return await session.channel_status()

    lines = ["520-Invalid command syntax.  Proper usage follows:", "usage text", "520 End of proper usage.",
             "200 result=6"]
    assert talk(lines, action)[0] == 6


def test_commands_are_written_as_the_transcripts_show():
    async def action(session):
        await session.set_variable("QUEUE_PRIO", 10)
        await session.verbose('say "hi"\n')
        await session.stream_file("beep")
        await session.record_file("/r/name", max_ms=20000, silence_s=2)

    _result, wire = talk(["200 result=1", "200 result=1", "200 result=0 endpos=3404", "200 result=0"], action)
    assert wire.sent.getvalue().decode().splitlines() == [
        "SET VARIABLE QUEUE_PRIO 10", 'VERBOSE "say hi" 1', 'STREAM FILE beep ""',
        'RECORD FILE /r/name wav "#" 20000 0 s=2']


def test_a_line_break_in_an_argument_never_reaches_asterisk_as_a_second_command():
    async def action(session):
        with pytest.raises(ValueError):
            await session.command("SET VARIABLE", "X", "1\nEXEC System rm")
        await session.set_variable("X", "1\nEXEC System rm")  # values are cleaned to one line

    _result, wire = talk(["200 result=1"], action)
    assert wire.sent.getvalue() == b'SET VARIABLE X "1EXEC System rm"\n'


def test_after_hang_up_channel_commands_are_not_sent_but_variables_still_are():
    async def action(session):
        await session.set_variable("A", 1)
        with pytest.raises(AgiHangup):
            await session.stream_file("beep")
        await session.set_variable("B", 2)

    _result, wire = talk(["HANGUP", "200 result=1", "200 result=1"], action)
    assert wire.sent.getvalue().decode().splitlines() == ["SET VARIABLE A 1", "SET VARIABLE B 2"]


def test_environment_is_read_with_pyst2_and_arguments_kept_in_order():
    async def action(session):
        await session.read_environment(1.0)
        return session

    session, _wire = talk(["agi_network: yes", "agi_network_script: ivr", "agi_uniqueid: 1795346261.723",
                           "agi_accountcode: ", "agi_arg_1: cidB", "agi_arg_2: ", "agi_arg_3: x:y", ""], action)
    env = session.env
    assert env["agi_accountcode"] == "" and session.script == "ivr" and session.uniqueid == "1795346261.723"
    assert session.args == ["cidB", "", "x:y"]


def test_environment_without_its_empty_line_is_refused():
    with pytest.raises(AgiRefused):
        talk(["agi_network: yes"], lambda session: session.read_environment(1.0))


def test_pyst2_debug_output_goes_to_logging_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="ivr.pyst2")
    async def action(session):
        await session.read_environment(1.0)
        await session.get_variable("A")

    talk(["agi_network_script: ivr", "", "200 result=1 (x)"], action)
    messages = [r.getMessage() for r in caplog.records if r.name == "ivr.pyst2"]
    assert "ENV LINE: agi_network_script: ivr" in messages
    assert any(m.startswith("    COMMAND: GET VARIABLE A") for m in messages)
    assert any("RESULT_DICT" in m and "'x'" in m for m in messages)
