"""One FastAGI session over an `AgiConnection`, speaking through pyst2's AGI class as the codec.

pyst2 is wrapped here and nowhere else. Its `AGI` class is built without its `__init__`
(which installs a SIGHUP handler, only possible on the main thread, and reads `sys.stdin`);
we hand it text streams instead: the environment block for `_get_agi_env`, the reply lines for
`get_result`, and a buffer that `send_command` writes the command into. Its debug chatter on
stderr goes to the `ivr.pyst2` logger at DEBUG.

What pyst2 does not know about FastAGI, and real Asterisk does (see AGI-NOTES), is handled
here: the `HANGUP` line (sent while idle, or just before the reply to the next command),
`511` replies on a dead channel, multi-line `520-` usage replies, the words of RECORD FILE,
and a `result=-1` that may mean "hung up" or "failed" (told apart by asking CHANNEL STATUS).
A client that is not Asterisk (garbage, endless lines, no environment) is refused without
touching any other session.
"""

from __future__ import annotations

import asyncio
import io
import logging
import pprint
import re
from dataclasses import dataclass

from asterisk import agi as pyst2

from ivr.connection import AgiConnection, LineTooLong

log = logging.getLogger(__name__)
codec_log = logging.getLogger("ivr.pyst2")

# Limits on what a client may send before it is refused. Real Asterisk sends about 25 short
# environment lines; a SIP display name can be long, and is cut to size later, not refused.
ENV_LINE_MAX_BYTES = 16 * 1024
ENV_LINES_MAX = 128
# One reply line: a GET VARIABLE of a base64 PIDF-LO can be several kilobytes.
# The server gives its connections this limit, so a longer line is refused, not buffered.
REPLY_LINE_MAX_BYTES = 64 * 1024
USAGE_LINES_MAX = 200
DTMF_DIGITS = "0123456789*#ABCD"

# Asterisk commands that need a live channel: after hang-up they answer 511.
_CHANNEL_COMMANDS = frozenset({"ANSWER", "STREAM FILE", "WAIT FOR DIGIT", "RECORD FILE", "EXEC"})
_VARIABLE_COMMANDS = frozenset({"GET VARIABLE", "GET FULL VARIABLE"})
_ENV_LINE = re.compile(rb"agi_[A-Za-z0-9_]{1,64}:")
_REPLY_START = re.compile(r"\d{3}[ -]")
_UNSAFE_IN_COMMAND = re.compile(r"[\r\n\x00]")


class AgiError(Exception):
    """Base of every failure of a FastAGI session."""


class AgiRefused(AgiError):
    """The client is not behaving like Asterisk (garbage, oversized, silent): the session is refused."""


class AgiHangup(AgiError):
    """The caller's channel is gone (HANGUP line, 511, a confirmed result=-1, or the socket closed)."""


class AgiCommandFailed(AgiError):
    """Asterisk answered, but the command did not do its job (510, 520, -2, or -1 on a live channel)."""


class AgiProtocolError(AgiError):
    """A reply that is not AGI: the conversation cannot go on, though the caller may still be there."""


class _DebugLog:
    """A write-only text stream that turns pyst2's stderr chatter into DEBUG log lines."""

    def __init__(self) -> None:
        self._pending: list[str] = []

    def write(self, text) -> int:
        if not codec_log.isEnabledFor(logging.DEBUG):
            return 0
        text = str(text)
        self._pending.append(text)
        if text.endswith("\n"):
            codec_log.debug("%s", "".join(self._pending).rstrip("\n"))
            self._pending.clear()
        return len(text)

    def flush(self) -> None:
        pass


class _CommandBuffer:
    """The stream pyst2's `send_command` writes into; the session sends what it holds."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


class _DeferredPformat:
    """Stands in for the `pprint` module inside pyst2: the text is only made if DEBUG is on.

    pyst2 pretty-prints the environment and every reply for its debug stream whether or not
    anyone reads it; measured, that was most of the codec's CPU per call.
    """

    class _Text:
        __slots__ = ("value",)

        def __init__(self, value) -> None:
            self.value = value

        def __str__(self) -> str:
            # pyst2 also %-formats it into a longer line, which calls this: stay cheap unless read.
            return pprint.pformat(self.value) if codec_log.isEnabledFor(logging.DEBUG) else ""

    def pformat(self, value) -> "_DeferredPformat._Text":
        return self._Text(value)


pyst2.pprint = _DeferredPformat()


class _Discard:
    """pyst2's stderr when DEBUG is off for the session's lifetime: writes cost nothing."""

    def write(self, text) -> int:
        return 0

    def flush(self) -> None:
        pass


_DISCARD = _Discard()


def _new_codec() -> pyst2.AGI:
    """pyst2's AGI without its constructor: no SIGHUP handler, no sys.stdin."""
    codec = pyst2.AGI.__new__(pyst2.AGI)
    codec.stdin = io.StringIO()
    codec.stdout = _CommandBuffer()
    codec.stderr = _DebugLog() if codec_log.isEnabledFor(logging.DEBUG) else _DISCARD
    codec.env = {}
    codec._got_sighup = False
    return codec


@dataclass(frozen=True)
class RecordResult:
    """How RECORD FILE ended: `timeout` (silence or the time limit), `dtmf`, or an error word."""

    reason: str
    digit: str | None
    endpos: int


class AgiSession:
    """A FastAGI conversation with one Asterisk channel: read its environment, then send commands."""

    def __init__(self, connection: AgiConnection, *, command_timeout: float = 120.0) -> None:
        self._connection = connection
        self._codec = _new_codec()
        self.command_timeout = command_timeout
        self.env: dict[str, str] = {}
        self.hung_up = False
        # When the reply being waited for is overdue (loop time; 0 when not waiting). The
        # server's watchdog ends sessions past it: Asterisk gone quiet must not pin a session.
        self.deadline = 0.0
        self.expired = False
        self.peer = connection.peer

    # --- the environment ---------------------------------------------------------------

    @property
    def script(self) -> str:
        """The AGI path, `agi_network_script` (e.g. "ivr"), without any query or slash."""
        return self.env.get("agi_network_script", "").split("?", 1)[0].strip("/")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def args(self) -> list[str]:
        """The AGI() arguments, `agi_arg_1` ... in order (an empty argument stays "")."""
        found = []
        n = 1
        while f"agi_arg_{n}" in self.env:
            found.append(self.env[f"agi_arg_{n}"])
            n += 1
        return found

    async def read_environment(self, timeout: float) -> dict[str, str]:
        """Read the environment block (key: value lines up to an empty line) within `timeout` seconds.

        Each line is checked as it comes, so a client that is not Asterisk is refused at its
        first line, and one that sends too much at the first line past a limit.
        """
        lines: list[bytes] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self._readline(refuse=True)
                    if not raw:
                        raise AgiRefused("the client closed before sending its environment")
                    if raw == b"\n" and lines:
                        break
                    if len(raw) > ENV_LINE_MAX_BYTES:
                        raise AgiRefused(f"an environment line of {len(raw)} bytes is over the limit")
                    if not _ENV_LINE.match(raw):
                        raise AgiRefused(f"an environment line that is not `agi_name: value`: {raw[:60]!r}")
                    lines.append(raw)
                    if len(lines) > ENV_LINES_MAX:
                        raise AgiRefused(f"more than {ENV_LINES_MAX} environment lines")
        except TimeoutError:
            raise AgiRefused(f"no complete environment within {timeout:g} s") from None
        # Caller names are whatever the network sent: decode leniently, clean up later.
        text = b"".join(lines).decode("utf-8", errors="replace") + "\n"
        self._codec.env = {}
        self._codec.stdin = io.StringIO(text)
        self._codec._get_agi_env()
        self.env = self._codec.env
        return self.env

    # --- commands ----------------------------------------------------------------------

    async def command(self, verb: str, *args: str, timeout: float | None = None) -> dict:
        """Send one command and return pyst2's parsed reply: {"result": (value, data), key: (value, data)}.

        This is the hot path of every call (a dozen commands per caller, a thousand callers at
        once), so it is one coroutine: no stacked awaits, no timer per command (see `deadline`).
        """
        for arg in args:
            # A line break in an argument would smuggle a second command to Asterisk.
            if _UNSAFE_IN_COMMAND.search(arg):
                raise ValueError(f"refusing an AGI argument with a line break or NUL: {arg[:40]!r}")
        if self.hung_up and verb in _CHANNEL_COMMANDS:
            raise AgiHangup(f"{verb} after hang-up")
        codec = self._codec
        codec.send_command(verb, *args)
        connection = self._connection
        connection.write(codec.stdout.take().encode("utf-8"))
        await connection.drain()
        self.deadline = asyncio.get_running_loop().time() + (timeout or self.command_timeout)
        try:
            while True:
                raw = await self._readline()
                if not raw:
                    self._lost(verb)
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line == "HANGUP":
                    # FastAGI's hang-up notice: sent while idle, or just before the reply.
                    self.hung_up = True
                    continue
                if line.startswith("520-"):
                    lines = await self._usage_lines(verb, line)
                    break
                lines = [line]
                break
        finally:
            self.deadline = 0.0
        return self._parse_reply(verb, lines)

    async def answer(self) -> None:
        await self._channel_command("ANSWER")

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function value; None when unset (`200 result=0`)."""
        reply = await self.command("GET VARIABLE", name)
        value, data = reply["result"]
        return data if value == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        """An expression with ${...} substitutions evaluated by Asterisk."""
        reply = await self.command("GET FULL VARIABLE", self._codec._quote(_plain(expression)))
        value, data = reply["result"]
        return data if value == "1" else None

    async def set_variable(self, name: str, value: object) -> None:
        text = _plain(str(value))
        await self.command("SET VARIABLE", name, text if text and " " not in text else self._codec._quote(text))

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", self._codec._quote(_plain(message)), str(level))

    async def channel_status(self) -> int:
        reply = await self.command("CHANNEL STATUS")
        return int(reply["result"][0])

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play a prompt; return the key that interrupted it, or None if it played to the end."""
        reply = await self._channel_command("STREAM FILE", name, self._codec._quote(escape_digits))
        return _digit(reply["result"][0])

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key; None when none came in time."""
        reply = await self._channel_command("WAIT FOR DIGIT", str(int(timeout_ms)),
                                            timeout=timeout_ms / 1000 + self.command_timeout)
        return _digit(reply["result"][0])

    async def record_file(self, path: str, *, fmt: str = "wav", escape_digits: str = "#",
                          max_ms: int = 20000, silence_s: int | None = None, beep: bool = False) -> RecordResult:
        """Record the caller into `path`.`fmt`; Asterisk writes the file as it records."""
        args = [path, fmt, self._codec._quote(escape_digits), str(int(max_ms)), "0"]
        if beep:
            args.append("BEEP")
        if silence_s:
            args.append(f"s={int(silence_s)}")
        reply = await self._channel_command("RECORD FILE", *args, timeout=max_ms / 1000 + self.command_timeout)
        value, word = reply["result"]
        endpos = _int(reply.get("endpos", ("0", ""))[0])
        # The number after result= means nothing for RECORD FILE: the word in brackets tells.
        if word == "dtmf":
            return RecordResult("dtmf", _digit(value), endpos)
        if word in ("randomerror", "writefile"):
            raise AgiCommandFailed(f"RECORD FILE failed: {word}")
        return RecordResult(word or "timeout", None, endpos)

    async def exec_app(self, application: str, *args: str) -> int:
        """Run a dialplan application; an unknown application (-2) raises AgiCommandFailed."""
        options = ",".join(_plain(a) for a in args)
        words = [application] + ([options if options and " " not in options else self._codec._quote(options)]
                                 if args else [])
        reply = await self._channel_command("EXEC", *words)
        result = _int(reply["result"][0])
        if result == -2:
            raise AgiCommandFailed(f"no dialplan application {application}")
        return result

    async def close(self) -> None:
        """End the AGI: closing the socket is how a FastAGI script returns to the dialplan."""
        self._connection.close()

    # --- reading and parsing -----------------------------------------------------------

    async def _channel_command(self, verb: str, *args: str, timeout: float | None = None) -> dict:
        reply = await self.command(verb, *args, timeout=timeout)
        if reply["result"][0] != "-1":
            return reply
        # -1 is "hung up" or "failed" (a missing prompt file answers -1 too). Asterisk tells
        # them apart only on the next command: HANGUP/511 on a dead channel, 200 on a live one.
        if not self.hung_up:
            try:
                await self.channel_status()
            except AgiCommandFailed:
                pass
        if self.hung_up:
            raise AgiHangup(f"{verb}: the caller hung up")
        raise AgiCommandFailed(f"{verb} {' '.join(args)[:80]} failed on a live channel")

    async def _readline(self, *, refuse: bool = False) -> bytes:
        try:
            return await self._connection.readline()
        except LineTooLong:  # a client sending a line without end
            if refuse:
                raise AgiRefused(f"a line longer than {REPLY_LINE_MAX_BYTES} bytes") from None
            raise AgiProtocolError(f"a reply line longer than {REPLY_LINE_MAX_BYTES} bytes") from None

    def expire_if_late(self, now: float) -> bool:
        """Called by the server's watchdog: end a session whose reply is overdue (True if it did).

        One watchdog pass a second over all sessions costs far less than a timer per command.
        """
        if self.deadline and now > self.deadline:
            self.expired = True
            self._connection.abort()
            return True
        return False

    async def _usage_lines(self, verb: str, line: str) -> list[str]:
        """The rest of a multi-line `520-` usage reply, up to its `520 ` line."""
        lines = [line]
        while not line.startswith("520 "):
            raw = await self._readline()
            if not raw:
                self._lost(verb)
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            lines.append(line)
            if len(lines) > USAGE_LINES_MAX:
                raise AgiProtocolError(f"{verb}: endless usage reply")
        return lines

    def _lost(self, verb: str) -> None:
        """The connection ended while a reply was awaited: the watchdog's doing, or Asterisk's."""
        if self.expired:
            raise AgiProtocolError(f"{verb}: no reply in time; the session was ended")
        self.hung_up = True
        raise AgiHangup(f"{verb}: Asterisk closed the connection")

    def _parse_reply(self, verb: str, lines: list[str]) -> dict:
        first = lines[0]
        if not _REPLY_START.match(first):
            raise AgiProtocolError(f"{verb}: a reply that is not AGI: {first[:60]!r}")
        code = first[:3]
        if code == "511":
            self.hung_up = True
            raise AgiHangup(f"{verb}: dead channel")
        self._codec.stdin = io.StringIO("\n".join(lines) + "\n")
        try:
            return self._codec.get_result()
        except pyst2.AGIResultHangup:
            if verb in _VARIABLE_COMMANDS:
                # pyst2 takes "(hangup)" for a hang-up; here it is a variable whose value is "hangup".
                return {"result": ("1", "hangup")}
            self.hung_up = True
            raise AgiHangup(f"{verb}: the caller hung up") from None
        except pyst2.AGIAppError:
            return {"result": ("-1", "")}
        except pyst2.AGIInvalidCommand:
            raise AgiCommandFailed(f"{verb}: Asterisk does not know this command") from None
        except pyst2.AGIUsageError:
            raise AgiCommandFailed(f"{verb}: Asterisk refused the syntax") from None
        except pyst2.AGIUnknownError:
            raise AgiProtocolError(f"{verb}: unexpected reply {first[:60]!r}") from None


_NOT_PLAIN = re.compile(r'["\\\x00-\x1f\x7f]')


def _plain(text: str) -> str:
    """Text safe inside a quoted AGI argument: no quotes, backslashes or control characters."""
    return _NOT_PLAIN.sub("", text)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _digit(value: str) -> str | None:
    """The key of a `result=` ASCII code (`0` means none)."""
    code = _int(value)
    if code <= 0:
        return None
    char = chr(code) if code < 128 else ""
    return char if char and char in DTMF_DIGITS else None
