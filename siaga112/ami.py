"""The Asterisk manager interface (AMI) on the wire: messages, one connection, one client.

Why not pyst2's `asterisk.manager.Manager` (pyst2 0.5.1, checked on Python 3.11): its constructor
calls `Thread.setDaemon()` and its threads loop on `Event.isSet()`, both deprecated, so under our
warnings-as-errors the constructor raises and the reader thread dies on its first loop; it blocks
for ever on `Queue.get()` when Asterisk stays silent (a supervisor's request would hang); it
connects without a timeout; it pairs replies with requests by arrival order, not `ActionID`; it
calls the Python 2 `dict.has_key` when a reply carries `ChanVariable`; and its `__del__` logs off
from the garbage collector. So this module speaks the documented wire format itself, which is
small: `Key: Value` lines ending in CRLF, a blank line ending each message, a one-line banner
`Asterisk Call Manager/x.y.z` on connect, replies carrying the `ActionID` that was sent.

Here in the frame because two parts use it: the console (call-back, live monitoring:
`agent_console/ami.py`) and the call path (AMI events and the queue order: `ivr/ami_listener.py`,
`ivr/queue_order.py`). Each action of AmiClient gets its own short connection (connect, `Login`
with `Events: off`, the action, `Logoff`); the event listener keeps its own.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass
from typing import Iterable, Sequence

from siaga112 import i18n
from siaga112.errors import ApiError
from siaga112.settings import Settings

log = logging.getLogger(__name__)

CRLF = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_TIMEOUT_SECONDS = 5.0


class AmiError(ApiError):
    """An AMI action did not happen; `str(error)` is a sentence fit to show the user.

    It is an ApiError so that any view letting it through answers with that sentence and a
    4xx/503 status, never a 500: a failed call-back is an expected event on a 112 floor.
    """

    status_code, slug = 409, "telephony_refused"

    def __init__(self, message: str, code: str | None = None) -> None:
        code = code or self.slug
        key = f"sv.ami.{code}"  # the telephony sentences, in the viewer's language when the catalogue has them
        super().__init__(self.status_code, code, message,
                         words=i18n.message(key) if i18n.known(key, "en") else None)


class AmiNotConfigured(AmiError):
    status_code, slug = 503, "ami_not_configured"


class AmiUnreachable(AmiError):
    status_code, slug = 503, "ami_unreachable"


class AmiLoginFailed(AmiError):
    status_code, slug = 503, "ami_login_failed"


class AmiRefused(AmiError):
    status_code, slug = 502, "ami_refused"


@dataclass(frozen=True)
class Message:
    """One AMI message: its `Key: Value` headers in order (a key may repeat, e.g. `Variable`)."""

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k.lower() == key.lower():
                return v
        return default

    @property
    def is_event(self) -> bool:
        return self.get("Event") is not None

    @property
    def is_response(self) -> bool:
        return self.get("Response") is not None and not self.is_event


def parse_message(lines: Iterable[str]) -> Message:
    """Turn the lines of one message (CRLF already stripped) into a Message.

    Sample, as Asterisk 22 writes it:
        Response: Success
        ActionID: 3
        Message: Originate successfully queued
    A value may be empty (`AccountCode: `) or contain colons (`Message: Invalid/unknown command:
    Bogus. Use Action: ListCommands ...`): only the first colon splits. A line without a colon is
    kept under the empty key, as Asterisk's `Command` output is.
    """
    headers = []
    for line in lines:
        key, colon, value = line.partition(":")
        if colon:
            headers.append((key.strip(), value.strip()))
        elif line.strip():
            headers.append(("", line.strip()))
    return Message(tuple(headers))


def format_action(headers: Sequence[tuple[str, str]]) -> bytes:
    """Encode one action: CRLF after every header and a blank CRLF line to end it.

    Values cannot carry CR or LF (they would start a new header), so such values are refused.
    """
    out = []
    for key, value in headers:
        value = str(value)
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
            raise ValueError(f"AMI header {key!r} would contain a line break")
        out.append(f"{key}: {value}{CRLF}")
    out.append(CRLF)
    return "".join(out).encode("utf-8")


class _Connection:
    """One TCP connection to the manager, read message by message with a timeout on every read."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            log.warning("AMI at %s:%s unreachable: %s", host, port, error)
            raise AmiUnreachable("The telephone system (Asterisk) cannot be reached right now; "
                                 "dial the number by hand and tell the technician on duty.") from None
        self.reader = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def _readline(self) -> str | None:
        try:
            raw = self.reader.readline()
        except (socket.timeout, TimeoutError):
            raise AmiUnreachable("The telephone system (Asterisk) did not answer in time; "
                                 "dial the number by hand and tell the technician on duty.") from None
        except OSError:
            raw = b""
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def read_banner(self) -> str:
        line = self._readline()
        if line is None or not line.startswith(BANNER_PREFIX):
            log.warning("AMI peer sent %r instead of the manager banner", line)
            raise AmiUnreachable("The telephone system answered, but not as an Asterisk manager; "
                                 "tell the technician on duty.")
        return line

    def read_message(self) -> Message | None:
        lines: list[str] = []
        while True:
            line = self._readline()
            if line is None:
                return parse_message(lines) if lines else None
            if line == "":
                if lines:
                    return parse_message(lines)
                continue
            lines.append(line)

    def send(self, headers: Sequence[tuple[str, str]]) -> None:
        try:
            self.sock.sendall(format_action(headers))
        except OSError:
            raise AmiUnreachable("The connection to the telephone system broke; try again, "
                                 "or dial the number by hand.") from None

    def request(self, headers: Sequence[tuple[str, str]]) -> Message | None:
        """Send an action and return the response carrying its ActionID (events are skipped)."""
        action_id = dict(headers).get("ActionID")
        self.send(headers)
        while True:
            message = self.read_message()
            if message is None:
                return None
            if message.is_response and message.get("ActionID") == action_id:
                return message


class AmiClient:
    """Settings for one Asterisk manager, and the few actions Siaga112 sends it."""

    def __init__(self, host: str, port: int, username: str, secret: str, *,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.host, self.port, self.username, self.secret, self.timeout = host, int(port), username, secret, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> "AmiClient":
        return cls(settings.ami_host, settings.ami_port, settings.ami_username, settings.ami_secret,
                   timeout=settings.ami_timeout_seconds)

    def send_action(self, action: str, fields: Sequence[tuple[str, str]] = ()) -> Message:
        """Log in, send one action, log off; the action's `Response: Success` message, or AmiError."""
        if not self.username:
            raise AmiNotConfigured("Call-back and monitoring are not set up: the telephone system's "
                                   "manager account (ami_username) is empty.")
        action_id = f"siaga112-{uuid.uuid4().hex[:12]}"
        connection = _Connection(self.host, self.port, self.timeout)
        try:
            connection.read_banner()
            login = connection.request([("Action", "Login"), ("ActionID", f"{action_id}-login"),
                                        ("Username", self.username), ("Secret", self.secret), ("Events", "off")])
            if login is None or login.get("Response") != "Success":
                log.warning("AMI login as %r refused: %s", self.username, login.get("Message") if login else "closed")
                raise AmiLoginFailed("Siaga112 could not sign in to the telephone system; an administrator "
                                     "must check the manager account (ami_username, ami_secret).")
            reply = connection.request([("Action", action), ("ActionID", action_id), *fields])
            if reply is None:
                raise AmiUnreachable("The telephone system closed the connection; try again, "
                                     "or dial the number by hand.")
            if reply.get("Response") != "Success":
                log.warning("AMI %s %s refused: %s", action, action_id, reply.get("Message"))
                raise AmiRefused("The telephone system refused the request; tell the technician on duty.")
            self._logoff(connection, action_id)
            return reply
        finally:
            connection.close()

    @staticmethod
    def _logoff(connection: _Connection, action_id: str) -> None:
        # Asterisk answers Goodbye and closes; a failure here no longer matters to the caller.
        try:
            connection.request([("Action", "Logoff"), ("ActionID", f"{action_id}-logoff")])
        except AmiError:
            pass

    def originate(self, fields: Sequence[tuple[str, str]]) -> Message:
        return self.send_action("Originate", fields)
