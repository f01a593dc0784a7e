"""The call path read from Asterisk's own events (AMI): answer, screen-pop, keys, end.

Nothing of Siaga112 runs between a call-taker's answer and the bridge, nor after the caller hangs
up: Asterisk connects the two and only tells us, and this listener writes it down. A stopped,
stalled or slow Siaga112 therefore delays no bridge at all; while it is away the calls go on in
Asterisk, and when it is back the listener reads Asterisk's state (the callers waiting in queue
112, the channels up and who is bridged to whom) and completes their records.

What each event does (`CallEvents`), every one idempotent by Asterisk's uniqueid, written now or
kept in the call journal (`ivr/call_journal.py`) when the database is away or slow:
- `UserEvent SiagaCall` (the dialplan, just before Queue()): the call is on record (opened here
  if the intake AGI did not get to it), with its answer time, its recordings, and its priority
  agreed with Asterisk's; live transcription of the caller's own direction starts.
- `QueueCallerJoin`: the call is `queued`.
- `AgentConnect`: `answered` by the console user whose phone interface answered: the screen-pop;
  the caller's live transcription steps back behind the waiting callers' (`recordings.decode_turns`).
- `UserEvent SiagaKeys`: 55 (a silent emergency) or a service key pressed while waiting.
- `AgentComplete`, `QueueCallerAbandon`: the end, at its own time.
- `Hangup` of the caller's channel: the final state (if not ended already), the end of live
  transcription, and the recordings registered.
- `Newstate` Up of a channel in [emergency]: the call is on record from Asterisk's answer, before
  the intake runs, and even if it never does (FastAGI down).
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

from sqlalchemy import select

from ivr import call_journal
from ivr.calls import LISTENER_STEP, NewCall, epoch_time
from ivr.hooks import IvrHooks
from ivr.identity import caller_name, caller_number, clean_text
from ivr.queue_order import QUEUE, change_priority_action
from ivr.steps.intake import recording_paths
from siaga112.ami import BANNER_PREFIX, Message, format_action, parse_message
from siaga112.db import utcnow
from siaga112.models import Call

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
# The contexts a 112 caller's channel is in (extensions.conf), and Asterisk's "Up" channel state.
CALLER_CONTEXTS = ("emergency", "siaga112-waiting")
UP = "6"


def member_interface(channel: str) -> str:
    """The queue member interface of a member's channel name (PJSIP/1001-0000002a -> PJSIP/1001)."""
    return _CHANNEL_SUFFIX.sub("", channel or "")


@dataclass
class LiveCall:
    """A call the listener follows: its record (None while the record waits in the call journal),
    its channel, its caller-side recording."""

    call_id: int | None
    uniqueid: str
    channel: str
    statement: str | None = None
    transcribing: bool = False
    connected: bool = False  # a call-taker answered
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

    Every write goes through `writer` (`ivr.call_journal.CallWriter`): written now, within
    `ivr_db_timeout_seconds`, or kept in the call journal, keyed by uniqueid, with the event's
    own time, and written in order when the database is back. So a stopped, hung or slow database
    never holds this thread, and nothing Asterisk said is lost meanwhile.

    `send(fields)` sends an action on the listener's connection (QueueChangePriorityCaller);
    `hooks` are the recordings part's listeners (live transcription, work after the call).
    """

    def __init__(self, runtime, hooks: IvrHooks | None = None,
                 send: Callable[[list[tuple[str, str]]], None] | None = None, queue: str = QUEUE,
                 writer: call_journal.CallWriter | None = None) -> None:
        self.runtime = runtime
        self.hooks = hooks or IvrHooks()
        self.send = send or (lambda fields: None)
        self.queue = queue
        self.writer = writer or call_journal.CallWriter(call_journal.runtime_journal(runtime), runtime.database,
                                                        timeout_s=runtime.settings.ivr_db_timeout_seconds)
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

    def on_newstate(self, message: Message) -> None:
        """A 112 caller's channel is answered: the call is on record from its first second, even
        if the intake never runs (FastAGI down) and the caller hangs up before the queue."""
        if message.get("ChannelState") != UP or message.get("Context") not in CALLER_CONTEXTS:
            return
        uniqueid = _uniqueid(message)
        if not uniqueid or uniqueid in self.live:
            return
        opened = self._write(message, [self._open(message)])
        self._follow(opened[0].id if opened else None, message, None)

    def on_siaga_call(self, message: Message) -> None:
        answered = epoch_time(message.get("AnsweredAt"))
        recordings = recording_paths(message.get("Recording"))
        done = self._write(message, [self._intake(message, answered_at=answered, recordings=recordings)])
        call = self._follow(done[0][0] if done else None, message, recordings.get("statement"))
        # Agreed when the caller joins (next event): an action now could arrive before the join.
        call.priority, call.asterisk_priority = done[0][1] if done else None, _int(message.get("QueuePrio"))

    def on_queue_caller_join(self, message: Message) -> None:
        if message.get("Queue") != self.queue:
            return
        # Queued from Asterisk's own join (a call in state `ivr` becomes `queued` at this time);
        # a call already queued is left as it is, and its priority on record comes back.
        done = self._write(message, [self._intake(message)])
        call = self._follow(done[0][0] if done else None, message, None)
        if done:
            self._agree(call, done[0][1], call.asterisk_priority)

    def on_agent_connect(self, message: Message) -> None:
        if message.get("Queue") != self.queue:
            return
        interface = clean_text(message.get("Interface"), 200)
        entries = [] if _uniqueid(message) in self.live else [self._intake(message)]
        entries.append((call_journal.ANSWER, {"call_ref": None, "caller": None, "interface": interface}))
        done = self._write(message, entries)
        log.info("call %s answered on %s%s", done[-1] if done else _uniqueid(message), interface,
                 "" if done else " (kept in the call journal)")
        call = self.live.get(_uniqueid(message))
        if call is not None:
            call.connected = True
            if call.transcribing:
                self.hooks.caller_connected(call.call_id)

    def on_hangup(self, message: Message) -> None:
        uniqueid = _uniqueid(message)
        call = self.live.pop(uniqueid, None)
        caller = call is not None or message.get("Context") in CALLER_CONTEXTS
        # A channel not known as a 112 caller (a call-taker's leg, a call-back) is ended only if a
        # call is on record under it (a caller transferred while this listener was away); one met
        # while the database is away is not kept, for it is almost never a call.
        entries = [] if call is not None or not caller else [self._open(message)]
        entries.append((call_journal.END, {} if caller else {"maybe_not_a_call": True}))
        done = self._write(message, entries, keep=caller)
        if call is not None and call.transcribing:
            self.hooks.statement_ended(call.call_id, call.statement)
        if done and done[-1] is not None:
            call_id, state = done[-1]
            log.info("call %s ended: %s", call_id, state)
            self.hooks.call_ended(call_id)  # kept: the journal's replayer tells the hook

    def on_queue_end(self, message: Message) -> None:
        """`AgentComplete` (the call-taker's part is over) or `QueueCallerAbandon` (the caller gave
        up waiting): the call ends at this event's time. The caller's `Hangup`, right after, finds
        it ended, and tells the recordings part that the files are final."""
        if message.get("Queue") != self.queue:
            return
        entries = [] if _uniqueid(message) in self.live else [self._intake(message)]
        entries.append((call_journal.END, {"early": True}))
        self._write(message, entries)

    def on_siaga_keys(self, message: Message) -> None:
        keys = (message.get("Keys") or "").strip().lower()
        entries = [] if _uniqueid(message) in self.live else [self._intake(message)]
        entries.append((call_journal.KEYS, {"keys": keys}))
        done = self._write(message, entries)
        call = self._follow(done[0][0] if done and len(done) == 2 else None, message, None)
        # The dialplan queues the caller again at once; the priority is agreed on that join.
        call.priority, call.asterisk_priority = done[-1] if done else None, _int(message.get("QueuePrio"))

    _handlers = {
        "newstate": on_newstate,
        "user:siagacall": on_siaga_call,
        "queuecallerjoin": on_queue_caller_join,
        "agentconnect": on_agent_connect,
        "agentcomplete": on_queue_end,
        "queuecallerabandon": on_queue_end,
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
        time, and live transcription of their side picks up where it is. With the database away,
        what Asterisk has now is kept in the journal; the ends of calls Asterisk no longer holds
        then wait for the next reconnect.
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
            done = self._write(entry, [self._intake(entry, recordings=paths, answered_at=answered)])
            call = self._follow(done[0][0] if done else None, entry, paths.get("statement"))
            if done:
                self._agree(call, done[0][1], _int(entry.get("Priority")))
        bridges: dict[str, list[Message]] = {}
        for channel in channels:
            if channel.get("BridgeId"):
                bridges.setdefault(channel.get("BridgeId"), []).append(channel)
        since = utcnow() - SYNC_WINDOW
        rows = self.writer.read(lambda session: session.execute(
            select(Call.id, Call.uniqueid, Call.state, Call.answered_at).where(
                Call.state.in_(LIVE_STATES), Call.started_at >= since)).all())
        for row in rows or []:
            channel = up.get(row.uniqueid)
            if channel is None:
                self.live.pop(row.uniqueid, None)
                done = self._write({"Uniqueid": row.uniqueid}, [(call_journal.END, {})])
                log.warning("call %s ended while Siaga112 was away: recorded as %s", row.id,
                            done[0][1] if done and done[0] else "(kept in the call journal)")
                if done and done[0]:
                    self.hooks.call_ended(row.id)
                continue
            self._follow(row.id, channel, recording_paths(recordings.get(row.uniqueid)).get("statement"))
            others = [c for c in bridges.get(channel.get("BridgeId") or "", []) if _uniqueid(c) != row.uniqueid]
            if row.answered_at is None and others:
                interface = member_interface(others[0].get("Channel") or "")
                self._write(channel, [(call_journal.ANSWER, {"call_ref": None, "caller": None,
                                                              "interface": interface})])
                log.warning("call %s was answered on %s while Siaga112 was away", row.id, interface)

    # --- helpers ---------------------------------------------------------------------------

    def _write(self, message, entries: list[tuple[str, dict]], *, keep: bool = True) -> list | None:
        """Write the entries of this event's call now, or keep them (`CallWriter`); the appliers'
        results, or None when kept. A journal that cannot take them either is logged: the call
        goes on in Asterisk all the same. An event without a uniqueid names no call: nothing is
        opened for it (a call record with no channel would sit on the floor as a caller nobody had)."""
        if not _uniqueid(message):
            log.warning("AMI event %s without a Uniqueid (channel %r): no call to record it on",
                        message.get("Event"), message.get("Channel"))
            return None
        try:
            return self.writer.write(_uniqueid(message), entries, at=_when(message), keep=keep)
        except call_journal.JournalError:
            log.error("AMI event for %s could be neither stored nor kept", _uniqueid(message))
            return None

    def _new_call(self, message, answered_at=None) -> NewCall:
        settings = self.runtime.settings
        raw = message.get("CallerIDNum")
        raw = None if raw in (None, "", "<unknown>") else raw
        name = message.get("CallerIDName")
        return NewCall(uniqueid=_uniqueid(message), channel=clean_text(message.get("Channel"), 200),
                       caller_raw=clean_text(raw, 64), caller=caller_number(raw, settings.phone_region),
                       caller_name=caller_name(None if name in (None, "<unknown>") else name),
                       ivr_step=LISTENER_STEP, answered_at=answered_at)

    def _window(self) -> timedelta:
        return timedelta(minutes=self.runtime.settings.repeat_call_window_minutes)

    def _open(self, message) -> tuple[str, dict]:
        """The call as this event's channel block tells it, in state `ivr` (the intake, or the
        dialplan's SiagaCall, rates and queues it)."""
        return call_journal.OPEN, call_journal.open_data(self._new_call(message), self._window())

    def _intake(self, message, *, answered_at=None, recordings=None) -> tuple[str, dict]:
        """The call opened if need be, rated and queued (idempotent by uniqueid: whatever the intake
        stored, before or at this very moment, stays, and what the event adds fills a gap)."""
        return call_journal.INTAKE, call_journal.intake_data(self._new_call(message, answered_at), self._window(),
                                                              recordings or {})

    def _follow(self, call_id: int | None, message, statement: str | None) -> LiveCall:
        uniqueid, channel = _uniqueid(message), clean_text(message.get("Channel"), 200) or ""
        call = self.live.get(uniqueid)
        if call is None:
            call = self.live[uniqueid] = LiveCall(call_id, uniqueid, channel)
        if call.call_id is None:
            call.call_id = call_id
        if channel:
            call.channel = channel
        if statement and not call.statement:
            call.statement = statement
        if call.statement and not call.transcribing and call.call_id is not None:
            # The caller's own direction, from the answer to the hang-up: what they say while they
            # wait, and on after the call-taker picks up. A busy database may have kept the event
            # that named the file (no call id yet): the next event written now starts it.
            call.transcribing = True
            self.hooks.statement_started(call.call_id, call.statement)
            if call.connected:
                self.hooks.caller_connected(call.call_id)
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
        # What the listener kept while the database was away is written back by a replayer of the
        # shared call journal; one process per journal folder replays at a time (FastAGI's, or this).
        self.replayer = call_journal.replayer(self.events.writer.journal, runtime.database,
                                              call_ended=self.events.hooks.call_ended)
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
        self.replayer.start()
        self._thread = threading.Thread(target=self._run, name="ami-listener", daemon=True)
        self._thread.start()
        log.info("AMI listener for %s:%s", settings.ami_host, settings.ami_port)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
            self.replayer.stop()
        self.events.writer.close()
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
            if channel.get("Context") in CALLER_CONTEXTS or channel.get("Application") == "Queue":
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
