"""Call-back and live monitoring over the Asterisk manager interface (AMI).

The wire format and the client are the frame's (`siaga112/ami.py`); this module holds what the
console asks of Asterisk: ring a call-taker's phone and then a caller back, ring a supervisor's
phone into ChanSpy on a live call, each audited.
"""

from __future__ import annotations

import logging
import re

from siaga112.ami import (  # noqa: F401  (names the console and its tests use)
    BANNER_PREFIX, CRLF, DEFAULT_TIMEOUT_SECONDS, AmiClient, AmiError, AmiLoginFailed, AmiNotConfigured, AmiRefused, AmiUnreachable,
    Message, _Connection, format_action, parse_message,
)
from siaga112.audit import record
from siaga112.models import User

log = logging.getLogger(__name__)

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
RING_TIMEOUT_MS = 30000  # how long the supervisor's or call-taker's own phone rings first


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


def pause_member(runtime, user, paused: bool) -> bool | None:
    """Pause or unpause a call-taker's phone in queue 112 when they go on break or come back.

    A phone on break must not ring while its owner is away, nor stay paused once they press
    "ready". Asterisk is told with AMI `QueuePause`; None when there is no manager account or
    the person has no phone, False when Asterisk did not take it (logged: the console still
    shows the state, and the supervisor sees it on the floor).
    """
    interface = (user.phone_interface or "").strip()
    if not runtime.settings.ami_username or not interface:
        return None
    fields = [("Interface", interface), ("Paused", "true" if paused else "false"), ("Queue", "112"),
              ("Reason", "break" if paused else "ready")]
    try:
        client(runtime).send_action("QueuePause", fields)
    except AmiError as error:
        log.warning("queue 112: %s not %s: %s", interface, "paused" if paused else "unpaused", error)
        return False
    return True
