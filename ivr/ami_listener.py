"""The call path read from Asterisk's own events (AMI): answer, screen-pop, keys, end.

Nothing of Siaga112 runs between a call-taker's answer and the bridge, nor after the caller hangs
up: Asterisk connects the two and only tells us, and this listener writes it down. A stopped,
stalled or slow Siaga112 therefore delays no bridge at all; while it is away the calls go on in
Asterisk, and when it is back the listener reads Asterisk's state (the callers waiting in queue
112, the channels up and who is bridged to whom) and completes their records.

What each event does (`CallEvents`), every one idempotent by Asterisk's uniqueid:
- `UserEvent SiagaCall` (the dialplan, just before Queue()): the call is on record (opened here
  if the intake AGI did not get to it), with its answer time, its recordings, and its priority
  agreed with Asterisk's; live transcription of the caller's own direction starts.
- `QueueCallerJoin`: the call is `queued`.
- `AgentConnect`: `answered` by the console user whose phone interface answered: the screen-pop.
- `UserEvent SiagaKeys`: 55 (a silent emergency) or a service key pressed while waiting.
- `Hangup` of the caller's channel: the final state, the end of live transcription, and the
  recordings registered.
Times are the events' own (`timestampevents = yes` in manager.conf), so a record written late
still says when things happened.

One thread reads the connection; the listener logs in with the events it needs, pings every few
seconds, and reconnects (0.5 s, then up to 5 s apart) whenever Asterisk goes away or goes quiet.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Sequence

from sqlalchemy import select, update

from ivr.calls import LISTENER_STEP, IntakeCall, NewCall, answer_call, end_call, epoch_time
from ivr.hooks import IvrHooks
from ivr.identity import caller_name, caller_number, clean_text
from ivr.priority import HIGHEST, POINTS
from ivr.queue_order import QUEUE, change_priority_action
from ivr.steps.intake import recording_paths
from siaga112 import events
from siaga112.ami import BANNER_PREFIX, Message, format_action, parse_message
from siaga112.db import iso, utcnow
from siaga112.models import Call
from siaga112.models.calls import SERVICE_CHOICES

log = logging.getLogger(__name__)

EVENT_CLASSES = "call,agent,user"
PING_SECONDS = 5.0         # a quiet connection is asked for a Pong this often...
SILENT_SECONDS = 12.0      # ...and one that says nothing for this long is taken as gone
READ_SECONDS = 0.5         # how often the reader looks at its stop flag
RECONNECT_FIRST, RECONNECT_MOST = 0.5, 5.0
SYNC_SECONDS = 10.0        # how long a start-up list (QueueStatus, CoreShowChannels) may take
LIVE_STATES = ("ivr", "queued", "answered")
# Calls older than this that Asterisk no longer has are not closed by a sync (they are not its).
SYNC_WINDOW = timedelta(hours=12)
# A channel name is its interface plus a sequence: PJSIP/1001-0000002a, Local/a@agents-00000001;1.
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;\d)?$")
SERVICE_NAMES = set(SERVICE_CHOICES.values())


def member_interface(channel: str) -> str:
    """The queue member interface of a member's channel name (PJSIP/1001-0000002a -> PJSIP/1001)."""
    return _CHANNEL_SUFFIX.sub("", channel or "")


@dataclass
class LiveCall:
    """A call the listener follows: its record, its channel, its caller-side recording."""

    call_id: int
    uniqueid: str
    channel: str
    statement: str | None = None
    transcribing: bool = False
    # QUEUE_PRIO as the dialplan last queued the caller with, and the priority on record: the
    # two are made one when the caller (re)joins the queue.
    asterisk_priority: int | None = None
    priority: int | None = None


@dataclass
class Moved:
    """A priority change sent to Asterisk (for tests and the log)."""

    call_id: int
    channel: str
    priority: int


class CallEvents:
    """What each AMI event does to the call record. Called from one thread, in event order.

    `send(fields)` sends an action on the listener's connection (QueueChangePriorityCaller);
    `hooks` are the recordings part's listeners (live transcription, work after the call).
    """

    def __init__(self, runtime, hooks: IvrHooks | None = None,
                 send: Callable[[list[tuple[str, str]]], None] | None = None, queue: str = QUEUE) -> None:
        self.runtime = runtime
        self.hooks = hooks or IvrHooks()
        self.send = send or (lambda fields: None)
        self.queue = queue
        self.live: dict[str, LiveCall] = {}
        self.moved: list[Moved] = []
        self.handled = 0

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        """One event; a failure is logged with the event's name and the listener goes on."""
        name = (message.get("Event") or "").lower()
        if name == "userevent":
            name = "user:" + (message.get("UserEvent") or "").lower()
        handler = self._handlers.get(name)
        if handler is None:
            return
        try:
            handler(self, message)
            self.handled += 1
        except Exception:
            log.exception("AMI event %s (uniqueid %s) could not be recorded", name, message.get("Uniqueid"))

    # --- the events ----------------------------------------------------------------------

    def on_siaga_call(self, message: Message) -> None:
        uniqueid, channel = _uniqueid(message), clean_text(message.get("Channel"), 200) or ""
        answered = epoch_time(message.get("AnsweredAt"))
        recordings = recording_paths(message.get("Recording"))
        call_id, priority = self._ensure(message, answered_at=answered, recordings=recordings)
        call = self._follow(call_id, uniqueid, channel, recordings.get("statement"))
        # Agreed when the caller joins (next event): an action now could arrive before the join.
        call.priority, call.asterisk_priority = priority, _int(message.get("QueuePrio"))

    def on_queue_caller_join(self, message: Message) -> None:
        if message.get("Queue") != self.queue:
            return
        uniqueid, channel = _uniqueid(message), clean_text(message.get("Channel"), 200) or ""
        call = self.live.get(uniqueid)
        if call is None:
            call_id, _priority = self._ensure(message)
            call = self._follow(call_id, uniqueid, channel, None)
        at = _when(message)
        with self.runtime.database.session() as session:
            current = session.execute(select(Call.state, Call.queued_at, Call.priority)
                                      .where(Call.id == call.call_id)).first()
            if current is not None and current.state in ("ivr", "queued") and current.queued_at is None:
                session.execute(update(Call).where(Call.id == call.call_id).values(state="queued", queued_at=at))
                events.publish(session, "call.updated", {"id": call.call_id, "state": "queued", "queued_at": iso(at)})
        if current is not None and current.state in ("ivr", "queued"):
            self._agree(call, current.priority, call.asterisk_priority)

    def on_agent_connect(self, message: Message) -> None:
        if message.get("Queue") != self.queue:
            return
        call_id = self._call_id(_uniqueid(message))
        if call_id is None:
            call_id, _priority = self._ensure(message)
        interface = clean_text(message.get("Interface"), 200)
        with self.runtime.database.session() as session:
            agent = answer_call(session, call_id, interface, at=_when(message))
        log.info("call %s answered on %s by %s", call_id, interface, agent or "no console user")

    def on_hangup(self, message: Message) -> None:
        uniqueid = _uniqueid(message)
        call = self.live.pop(uniqueid, None)
        call_id = call.call_id if call is not None else self._call_id(uniqueid, live_only=True)
        if call_id is None:
            return  # a call-taker's leg, a call-back, anything that is not a 112 caller
        with self.runtime.database.session() as session:
            state = end_call(session, call_id, at=_when(message))
        log.info("call %s ended: %s", call_id, state)
        if call is not None and call.transcribing:
            self.hooks.statement_ended(call_id, call.statement)
        self.hooks.call_ended(call_id)

    def on_siaga_keys(self, message: Message) -> None:
        uniqueid, channel = _uniqueid(message), clean_text(message.get("Channel"), 200) or ""
        keys = (message.get("Keys") or "").strip().lower()
        call = self.live.get(uniqueid)
        if call is None:
            call_id, _priority = self._ensure(message)
            call = self._follow(call_id, uniqueid, channel, None)
        with self.runtime.database.session() as session:
            priority = _press(session, call.call_id, keys)
        # The dialplan queues the caller again at once; the priority is agreed on that join.
        call.priority, call.asterisk_priority = priority, _int(message.get("QueuePrio"))

    _handlers = {
        "user:siagacall": on_siaga_call,
        "queuecallerjoin": on_queue_caller_join,
        "agentconnect": on_agent_connect,
        "hangup": on_hangup,
        "user:siagakeys": on_siaga_keys,
    }

    # --- after a reconnect -----------------------------------------------------------------

    def sync(self, waiting: Sequence[Message], channels: Sequence[Message],
             variables: dict[str, dict[str, str]] | None = None) -> None:
        """Complete the records from what Asterisk has now (QueueStatus entries, CoreShowChannels).

        A caller waiting in queue 112 is on record as queued with Asterisk's priority agreed; a
        caller bridged to a call-taker is answered by that call-taker; a call on record as live
        whose channel Asterisk no longer has ended while Siaga112 was away. `variables` holds a
        live caller's SIAGA_RECORDING and SIAGA_ANSWERED_AT by uniqueid: the record gets its answer
        time, and live transcription of their side picks up where it is.
        """
        variables = variables or {}
        recordings = {u: v.get("SIAGA_RECORDING") for u, v in variables.items()}
        up = {_uniqueid(c): c for c in channels}
        for entry in waiting:
            if entry.get("Queue") not in (None, self.queue):
                continue
            uniqueid = _uniqueid(entry)
            paths = recording_paths(recordings.get(uniqueid))
            answered = epoch_time(variables.get(uniqueid, {}).get("SIAGA_ANSWERED_AT"))
            call_id, priority = self._ensure(entry, recordings=paths, answered_at=answered)
            call = self._follow(call_id, uniqueid, clean_text(entry.get("Channel"), 200) or "", paths.get("statement"))
            self._agree(call, priority, _int(entry.get("Priority")))
        bridges: dict[str, list[Message]] = {}
        for channel in channels:
            if channel.get("BridgeId"):
                bridges.setdefault(channel.get("BridgeId"), []).append(channel)
        with self.runtime.database.session() as session:
            since = utcnow() - SYNC_WINDOW
            rows = session.execute(select(Call.id, Call.uniqueid, Call.state, Call.answered_at).where(
                Call.state.in_(LIVE_STATES), Call.started_at >= since)).all()
        for row in rows:
            channel = up.get(row.uniqueid)
            if channel is None:
                with self.runtime.database.session() as session:
                    state = end_call(session, row.id)
                log.warning("call %s ended while Siaga112 was away: recorded as %s", row.id, state)
                self.live.pop(row.uniqueid, None)
                self.hooks.call_ended(row.id)
                continue
            self._follow(row.id, row.uniqueid, channel.get("Channel") or "",
                         recording_paths(recordings.get(row.uniqueid)).get("statement"))
            others = [c for c in bridges.get(channel.get("BridgeId") or "", []) if _uniqueid(c) != row.uniqueid]
            if row.answered_at is None and others:
                interface = member_interface(others[0].get("Channel") or "")
                with self.runtime.database.session() as session:
                    answer_call(session, row.id, interface)
                log.warning("call %s was answered on %s while Siaga112 was away", row.id, interface)

    # --- helpers ---------------------------------------------------------------------------

    def _ensure(self, message: Message, *, answered_at=None, recordings=None) -> tuple[int, int]:
        """The call of this event's channel, opened (idempotently, by uniqueid) if there is none;
        returns its id and the priority on record."""
        uniqueid = _uniqueid(message)
        settings = self.runtime.settings
        raw = message.get("CallerIDNum")
        raw = None if raw in (None, "", "<unknown>") else raw
        name = message.get("CallerIDName")
        new = NewCall(uniqueid=uniqueid, channel=clean_text(message.get("Channel"), 200), caller_raw=clean_text(raw, 64),
                      caller=caller_number(raw, settings.phone_region),
                      caller_name=caller_name(None if name in (None, "<unknown>") else name),
                      ivr_step=LISTENER_STEP, answered_at=answered_at, started_at=_when(message))
        window = timedelta(minutes=settings.repeat_call_window_minutes)
        # Opening is idempotent by uniqueid (ivr/calls.py): whatever the intake stored, before or
        # at this very moment, stays, and what the event adds (the answer time) fills a gap.
        with self.runtime.database.session() as session:
            [(call_id, priority)] = IntakeCall.run_batch(session, [IntakeCall(new, window, recordings or {})])
        return call_id, priority

    def _follow(self, call_id: int, uniqueid: str, channel: str, statement: str | None) -> LiveCall:
        call = self.live.get(uniqueid)
        if call is None:
            call = self.live[uniqueid] = LiveCall(call_id, uniqueid, channel)
        if channel:
            call.channel = channel
        if statement and not call.transcribing:
            # The caller's own direction, from the answer to the hang-up: what they say while they
            # wait, and on after the call-taker picks up.
            call.statement, call.transcribing = statement, True
            self.hooks.statement_started(call_id, statement)
        return call

    def _agree(self, call: LiveCall, priority: int | None, in_asterisk: int | None) -> None:
        """One queue order: move the caller in Asterisk's queue to the priority on record."""
        if priority is None or priority == in_asterisk or not call.channel:
            return
        self.send(change_priority_action(call.channel, priority, self.queue))
        call.asterisk_priority = priority
        self.moved.append(Moved(call.call_id, call.channel, priority))
        log.info("call %s: moved to priority %s in queue %s (Asterisk had %s)", call.call_id, priority,
                 self.queue, in_asterisk)

    def _call_id(self, uniqueid: str, *, live_only: bool = False) -> int | None:
        call = self.live.get(uniqueid)
        if call is not None:
            return call.call_id
        if not uniqueid:
            return None
        query = select(Call.id).where(Call.uniqueid == uniqueid)
        if live_only:
            query = query.where(Call.state.in_(LIVE_STATES))
        with self.runtime.database.session() as session:
            return session.scalar(query.order_by(Call.id.desc()).limit(1))


def _press(session, call_id: int, keys: str) -> int:
    """Keys pressed while waiting: 55 is a silent emergency, a service name is the service choice.
    The priority gains the points of the table (ivr/priority.py) once; returns it."""
    row = session.execute(select(Call.priority, Call.silent_emergency, Call.service_choice, Call.state)
                          .where(Call.id == call_id)).one()
    values: dict = {}
    points = 0
    if keys == "55" and not row.silent_emergency:
        values.update(silent=True, silent_emergency=True)
        points += POINTS["silent_emergency"]
    elif keys in SERVICE_NAMES and row.service_choice != keys:
        values["service_choice"] = keys
        if row.service_choice is None:
            points += POINTS["service_choice"]
    if not values:
        return row.priority
    priority = min(HIGHEST, row.priority + points)
    values["priority"] = priority
    session.execute(update(Call).where(Call.id == call_id).values(**values))
    payload = {"id": call_id, "priority": priority, "priority_reason": "silent_emergency" if keys == "55" else "service_choice"}
    payload.update({k: v for k, v in values.items() if k != "priority"})
    events.publish(session, "call.updated", payload)
    return priority


def _uniqueid(message: Message) -> str:
    return clean_text(message.get("Uniqueid"), 64) or ""


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _when(message: Message):
    """The event's own time (manager.conf timestampevents = yes), else now."""
    return epoch_time(message.get("Timestamp")) or utcnow()


# --- the connection ---------------------------------------------------------------------------

class ListenerGone(Exception):
    """The manager connection ended, failed or went quiet: reconnect."""


class EventConnection:
    """One logged-in manager connection that reads events; a blocking socket read by one thread."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, timeout: float = 5.0,
                 stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise ListenerGone(f"cannot connect to {host}:{port}: {error}") from None
        self.sock.settimeout(READ_SECONDS)
        self.backlog: list[Message] = []
        self._buffer = b""
        self._lock = threading.Lock()
        self.heard_at = time.monotonic()
        try:
            self._banner(timeout)
            reply = self.request([("Action", "Login"), ("Username", username), ("Secret", secret),
                                  ("Events", EVENT_CLASSES)], timeout=timeout)
            if reply.get("Response") != "Success":
                raise ListenerGone(f"login as {username!r} refused: {reply.get('Message')}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, fields: Sequence[tuple[str, str]]) -> str:
        """Send an action (an ActionID is added if missing); returns the ActionID."""
        fields = list(fields)
        action_id = dict(fields).get("ActionID") or f"siaga112-listen-{uuid.uuid4().hex[:10]}"
        if "ActionID" not in dict(fields):
            fields.append(("ActionID", action_id))
        try:
            with self._lock:
                self.sock.sendall(format_action(fields))
        except OSError as error:
            raise ListenerGone(f"write failed: {error}") from None
        return action_id

    def read(self, stop: threading.Event | None = None) -> Message | None:
        """The next message, or None when nothing came within READ_SECONDS."""
        while b"\r\n\r\n" not in self._buffer and b"\n\n" not in self._buffer:
            if stop is not None and stop.is_set():
                return None
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except OSError as error:
                raise ListenerGone(f"read failed: {error}") from None
            if not chunk:
                raise ListenerGone("Asterisk closed the connection")
            self.heard_at = time.monotonic()
            self._buffer += chunk
        text, self._buffer = _cut(self._buffer)
        lines = [line for line in text.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")]
        return parse_message(lines)

    def request(self, fields: Sequence[tuple[str, str]], *, timeout: float = SYNC_SECONDS,
                list_end: str | None = None) -> Message | list[Message]:
        """Send an action and wait for its reply; with `list_end`, collect the event list it starts
        (up to the event named `list_end`). Other events met meanwhile go to `backlog`."""
        action_id = self.send(fields)
        deadline = time.monotonic() + timeout
        reply: Message | None = None
        items: list[Message] = []
        while time.monotonic() < deadline and not self.stop.is_set():
            message = self.read()
            if message is None:
                continue
            if message.get("ActionID") != action_id:
                if message.is_event:
                    self.backlog.append(message)
                continue
            if message.is_response:
                reply = message
                if list_end is None or reply.get("Response") != "Success":
                    return reply if list_end is None else []
                continue
            if message.get("Event") == list_end:
                return items
            items.append(message)
        raise ListenerGone(f"no reply to {dict(fields).get('Action')} within {timeout:g} s")

    def _banner(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if time.monotonic() > deadline or self.stop.is_set():
                raise ListenerGone("no manager banner")
            try:
                chunk = self.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                continue
            except OSError as error:
                raise ListenerGone(f"read failed: {error}") from None
            if not chunk:
                raise ListenerGone("closed before the banner")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if not line.decode("utf-8", "replace").startswith(BANNER_PREFIX):
            raise ListenerGone(f"not an Asterisk manager: {line[:60]!r}")


def _cut(buffer: bytes) -> tuple[bytes, bytes]:
    """The first message (up to its blank line) and the rest."""
    crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return buffer[:crlf], buffer[crlf + 4:]
    return buffer[:lf], buffer[lf + 2:]


# --- the service ------------------------------------------------------------------------------

@dataclass
class ListenerState:
    """What the listener has done, for health checks and tests."""

    connected: threading.Event = field(default_factory=threading.Event)
    connects: int = 0
    syncs: int = 0
    last_error: str | None = None


class AmiListenerService:
    """The `ami` service of `siaga112 serve`: follows Asterisk's events into the call records."""

    name = "ami"

    def __init__(self, runtime, *, hooks: IvrHooks | None = None,
                 hooks_factory: Callable[[object], IvrHooks] | None = None) -> None:
        self.runtime = runtime
        if hooks is None and hooks_factory is not None and runtime.settings.ami_username:
            hooks = hooks_factory(runtime)
        self.events = CallEvents(runtime, hooks, send=self._send)
        self.state = ListenerState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: EventConnection | None = None

    def start(self) -> None:
        settings = self.runtime.settings
        if not settings.ami_username:
            log.warning("AMI listener off: ami_username is empty, so answers, screen-pops and ends of "
                        "queue-first calls are not recorded (see config/asterisk/manager.conf)")
            return
        self._thread = threading.Thread(target=self._run, name="ami-listener", daemon=True)
        self._thread.start()
        log.info("AMI listener for %s:%s", settings.ami_host, settings.ami_port)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for listener in (getattr(self.events.hooks, "statement_listener", None),
                         getattr(self.events.hooks, "call_ended_listener", None)):
            if hasattr(listener, "stop"):
                try:
                    listener.stop()
                except Exception:
                    log.exception("AMI listener: a hook did not stop cleanly")

    def _send(self, fields: list[tuple[str, str]]) -> None:
        connection = self._connection
        if connection is None:
            log.warning("AMI listener: not connected, %s not sent", dict(fields).get("Caller"))
            return
        try:
            connection.send([("Action", "QueueChangePriorityCaller"), *fields])
        except ListenerGone as error:
            log.warning("AMI listener: priority change not sent: %s", error)

    def _run(self) -> None:
        pause = RECONNECT_FIRST
        while not self._stop.is_set():
            try:
                self._listen()
                pause = RECONNECT_FIRST
            except ListenerGone as error:
                self.state.last_error = str(error)
                log.warning("AMI listener: %s; reconnecting in %.1f s", error, pause)
            except Exception as error:  # the listener must outlive anything one connection does
                self.state.last_error = f"{error.__class__.__name__}: {error}"
                log.exception("AMI listener failed; reconnecting in %.1f s", pause)
            finally:
                self.state.connected.clear()
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
            self._stop.wait(pause)
            pause = min(RECONNECT_MOST, pause * 2)

    def _listen(self) -> None:
        settings = self.runtime.settings
        connection = EventConnection(settings.ami_host, settings.ami_port, settings.ami_username,
                                     settings.ami_secret, timeout=settings.ami_timeout_seconds, stop=self._stop)
        self._connection = connection
        self.state.connects += 1
        self._sync(connection)
        self.state.connected.set()
        log.info("AMI listener connected to %s:%s", settings.ami_host, settings.ami_port)
        pinged_at = time.monotonic()
        while not self._stop.is_set():
            message = connection.read(self._stop)
            now = time.monotonic()
            if message is None:
                if now - connection.heard_at > SILENT_SECONDS:
                    raise ListenerGone(f"Asterisk said nothing for {SILENT_SECONDS:g} s")
                if now - pinged_at > PING_SECONDS:
                    connection.send([("Action", "Ping")])
                    pinged_at = now
                continue
            if message.is_event:
                self.events.handle(message)

    def _sync(self, connection: EventConnection) -> None:
        """Read what Asterisk has now and complete the records, then the events that came meanwhile."""
        waiting = connection.request([("Action", "QueueStatus"), ("Queue", QUEUE)], list_end="QueueStatusComplete")
        channels = connection.request([("Action", "CoreShowChannels")], list_end="CoreShowChannelsComplete")
        entries = [m for m in waiting if m.get("Event") == "QueueEntry"]
        shown = [m for m in channels if m.get("Event") == "CoreShowChannel"]
        variables: dict[str, dict[str, str]] = {}
        for channel in shown:
            if channel.get("Context") in ("emergency", "siaga112-waiting") or channel.get("Application") == "Queue":
                for name in ("SIAGA_RECORDING", "SIAGA_ANSWERED_AT"):
                    reply = connection.request([("Action", "Getvar"), ("Channel", channel.get("Channel") or ""),
                                                ("Variable", name)])
                    if reply.get("Response") == "Success" and reply.get("Value"):
                        variables.setdefault(_uniqueid(channel), {})[name] = reply.get("Value")
        self.events.sync(entries, shown, variables)
        self.state.syncs += 1
        backlog, connection.backlog = connection.backlog, []
        for message in backlog:
            self.events.handle(message)
