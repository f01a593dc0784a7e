"""The Asterisk manager interface (AMI), in this one module: call-back and live monitoring.

Why not pyst2's `asterisk.manager.Manager` (pyst2 0.5.1, checked on Python 3.11): its constructor
calls `Thread.setDaemon()` and its threads loop on `Event.isSet()`, both deprecated, so under our
warnings-as-errors the constructor raises and the reader thread dies on its first loop; it blocks
for ever on `Queue.get()` when Asterisk stays silent (a supervisor's request would hang); it
connects without a timeout; it pairs replies with requests by arrival order, not `ActionID`; it
calls the Python 2 `dict.has_key` when a reply carries `ChanVariable`; and its `__del__` logs off
from the garbage collector. So this module speaks the documented wire format itself, which is
small: `Key: Value` lines ending in CRLF, a blank line ending each message, a one-line banner
`Asterisk Call Manager/x.y.z` on connect, replies carrying the `ActionID` that was sent.

Each action gets its own short connection (connect, `Login` with `Events: off`, the action,
`Logoff`): call-back and monitoring are rare, and a connection that lives for one action never
goes stale behind a firewall or needs a reconnecting thread inside the web process.
"""

from __future__ import annotations

import logging
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Iterable, Sequence

from siaga112 import i18n
from siaga112.audit import record
from siaga112.errors import ApiError
from siaga112.models import User
from siaga112.settings import Settings

log = logging.getLogger(__name__)

CRLF = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"

# ChanSpy options per monitoring mode: q = no beep or channel name announced to the supervisor,
# w = whisper (the call-taker hears the supervisor, the caller does not), B = barge (both hear),
# E = end when the spied-on call ends. Without E, ChanSpy keeps the supervisor's line open and
# starts spying on the call-taker's next call too, which nobody asked for and no audit entry covers.
MONITOR_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}

# `TECH/resource`, e.g. PJSIP/1001 or Local/agent1@agents/n. No commas, pipes, brackets or blanks:
# an interface goes into an Originate's Channel and into ChanSpy's argument list, where a comma
# would add options of its own.
PHONE_INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9@._+:/-]{1,120}$")
# What the call-back context dials: an E.164 number (the dialplan matches `_+X.`).
DIALLABLE = re.compile(r"^\+[1-9][0-9]{5,14}$")

DEFAULT_CALLBACK_CONTEXT = "siaga112-callback"
DEFAULT_CALLBACK_CALLERID = "Siaga112 <112>"
DEFAULT_TIMEOUT_SECONDS = 5.0
RING_TIMEOUT_MS = 30000  # how long the supervisor's or call-taker's own phone rings first


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


def client(runtime) -> AmiClient:
    """The runtime's AMI client, built once from the settings (tests may `provide` another)."""
    return runtime.client("ami", AmiClient.from_settings)


def spy_prefix(interface: str) -> str:
    """The ChanSpy channel prefix that matches only the calls of one phone interface.

    ChanSpy matches channel names by prefix, and channels are named `<interface>-<sequence>`:
    `PJSIP/1001` alone would also match `PJSIP/10010-0000002a`, so the dash is added. A Local
    queue member `Local/agent1@agents/n` names its channels `Local/agent1@agents-00000001;1`, so
    its `/n` dial option is dropped first.
    """
    interface = interface.strip()
    if interface.lower().startswith("local/") and interface.count("/") > 1:
        interface = interface.rsplit("/", 1)[0]
    return interface + "-"


def _setting(runtime, name: str, default: str) -> str:
    """A declared AMI setting; an empty one falls back to the dialplan sample's value."""
    return str(getattr(runtime.settings, name) or default)


def _audit(runtime, user, action: str, target: str, detail: dict, ip: str | None) -> None:
    with runtime.database.session() as session:
        record(session, user.username, action, target, detail=detail, actor_id=user.id, ip=ip)


def call_back(runtime, user, call, *, ip: str | None = None) -> str:
    """Ring the call-taker's phone, then the caller of an abandoned or silent call; audited.

    AMI Originate: `Channel` is the call-taker's phone (it rings first, so nobody calls a 112
    caller back into silence); when it answers, Asterisk runs `Context`/`Exten`/`Priority` of
    the call-back context with the caller's number, which dials out with the centre's caller ID.
    Returns the ActionID (the later `OriginateResponse` event carries it); raises AmiError with a
    sentence for the user when Asterisk cannot be asked.
    """
    if not call.caller:
        raise AmiError("This caller's number was withheld; there is no number to call back.", "number_withheld")
    if not DIALLABLE.match(call.caller):
        raise AmiError("This caller's number cannot be dialled back; read it out and dial it by hand.",
                       "number_invalid")
    if not user.phone_interface or not PHONE_INTERFACE.match(user.phone_interface):
        raise AmiError("Your account has no phone set; an administrator can add it under Users.", "no_phone")
    fields = [
        ("Channel", user.phone_interface),
        ("Context", _setting(runtime, "ami_callback_context", DEFAULT_CALLBACK_CONTEXT)),
        ("Exten", call.caller),
        ("Priority", "1"),
        ("CallerID", _setting(runtime, "ami_callback_callerid", DEFAULT_CALLBACK_CALLERID)),
        ("Timeout", str(RING_TIMEOUT_MS)),
        ("Async", "true"),
        ("Variable", f"SIAGA_CALL_ID={call.id}"),
        ("Variable", f"SIAGA_CALLBACK_BY={user.username}"),
    ]
    detail = {"caller": call.caller, "phone": user.phone_interface}
    try:
        reply = client(runtime).originate(fields)
        action_id = reply.get("ActionID")
    except AmiError as error:
        _audit(runtime, user, "call.callback", f"call:{call.id}",
               {**detail, "result": "failed", "reason": type(error).__name__}, ip)
        raise
    _audit(runtime, user, "call.callback", f"call:{call.id}", {**detail, "result": "queued", "action_id": action_id}, ip)
    return action_id


def _agent_interface(runtime, call) -> str | None:
    """The phone the call is connected to: as the queue reported it, else the agent's own phone."""
    if call.agent_interface:
        return call.agent_interface
    if call.agent_id is None:
        return None
    with runtime.database.session() as session:
        agent = session.get(User, call.agent_id)
        return agent.phone_interface if agent is not None else None


def monitor(runtime, supervisor, call, mode: str, *, ip: str | None = None) -> str:
    """Ring the supervisor's phone into ChanSpy on the call-taker's live call; audited.

    `mode` is listen, whisper or barge (ChanSpy options q, qw, qB, each with E). The permission check
    (scope `monitor`) is the view's; this function does the telephony and the audit entry.
    """
    if mode not in MONITOR_OPTIONS:
        raise ValueError(f"mode must be one of {', '.join(MONITOR_OPTIONS)}")
    if not supervisor.phone_interface or not PHONE_INTERFACE.match(supervisor.phone_interface):
        raise AmiError("Your account has no phone set; an administrator can add it under Users.", "no_phone")
    interface = _agent_interface(runtime, call) if call.state == "answered" else None
    if not interface or not PHONE_INTERFACE.match(interface):
        raise AmiError("This call is not connected to a call-taker's phone right now.", "not_connected")
    data = f"{spy_prefix(interface)},{MONITOR_OPTIONS[mode]}"
    fields = [
        ("Channel", supervisor.phone_interface),
        ("Application", "ChanSpy"),
        ("Data", data),
        ("CallerID", f"Monitor <{call.id}>"),
        ("Timeout", str(RING_TIMEOUT_MS)),
        ("Async", "true"),
        ("Variable", f"SIAGA_CALL_ID={call.id}"),
    ]
    detail = {"agent_interface": interface, "phone": supervisor.phone_interface, "chanspy": data}
    try:
        reply = client(runtime).originate(fields)
    except AmiError as error:
        _audit(runtime, supervisor, f"monitor.{mode}", f"call:{call.id}",
               {**detail, "result": "failed", "reason": type(error).__name__}, ip)
        raise
    action_id = reply.get("ActionID")
    _audit(runtime, supervisor, f"monitor.{mode}", f"call:{call.id}", {**detail, "result": "queued", "action_id": action_id}, ip)
    return action_id
