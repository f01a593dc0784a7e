"""Console events: appended to the outbox in the same transaction as the change they announce.

Every process writes here and every console reads from here, so a change made by the IVR,
an alarm receiver or another web process reaches all consoles. On PostgreSQL a NOTIFY wakes
the readers at once; on SQLite readers look at the table a few times a second.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from typing import Callable, Iterator

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from siaga112 import bulk
from siaga112.db import utcnow
from siaga112.models import Event

EVENT_KINDS = (
    "call.queued", "call.updated", "call.answered", "call.ended",
    "alarm.new", "alarm.updated", "incident.created", "incident.updated", "unit.updated",
    "agent.status",  # a call-taker's state on the floor: available, on_call, wrap_up, break, offline
)
NOTIFY_CHANNEL = "siaga112_events"

# The scope a reader needs to hear each kind: the stream is the API's reads told as they happen,
# so a `calls:read` token (a wallboard) hears the queue and nothing of alarms (reporters' names
# and positions, banks' panic alarms), incidents or units. A kind missing here reaches no one.
EVENT_SCOPES = {
    "call.queued": "calls:read", "call.updated": "calls:read", "call.answered": "calls:read",
    "call.ended": "calls:read", "agent.status": "calls:read",
    "alarm.new": "alarms:read", "alarm.updated": "alarms:read",
    "incident.created": "incidents:read", "incident.updated": "incidents:read",
    "unit.updated": "units:read",
}


def kinds_for(can: Callable[[str], bool]) -> frozenset[str]:
    """The event kinds a reader who `can(scope)` may hear."""
    return frozenset(kind for kind, scope in EVENT_SCOPES.items() if can(scope))


def publish(session: Session, kind: str, payload: dict, *, audience: str | None = None) -> Event:
    """Queue an event for every console (or only `audience`, a username)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    event = Event(kind=kind, payload=payload, audience=audience)
    session.add(event)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": NOTIFY_CHANNEL, "id": str(event.id)})
    return event


def publish_many(session: Session, notices: list[tuple[str, dict, str | None]], *, now=None) -> None:
    """`publish` for many events at once: one multi-row insert and, on PostgreSQL, one NOTIFY.

    Consoles read every event after the id they hold, so one NOTIFY wakes them for all of them.
    """
    if not notices:
        return
    for kind, _payload, _audience in notices:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
    now = now or utcnow()
    rows = [{"at": now, "kind": kind, "payload": payload, "audience": audience} for kind, payload, audience in notices]
    if session.get_bind().dialect.name == "postgresql":
        bulk.insert_rows_and_notify(session, Event.__table__, rows, NOTIFY_CHANNEL)
    else:
        bulk.insert_rows(session, Event.__table__, rows, returning=None)


# --- the subscriber side -------------------------------------------------------------------

POLL_SECONDS = 0.2  # SQLite has no NOTIFY: one poller per process reads the newest id this often
LISTEN_TIMEOUT_SECONDS = 0.5  # how often the PostgreSQL listener looks up from its socket
GAP_GRACE_SECONDS = 10.0  # how long a reader waits for a lower id committed after a higher one

log = logging.getLogger(__name__)


def fetch(session: Session, after_id: int, *, audience: str | None, limit: int = 200) -> list[Event]:
    """Events newer than `after_id` that `audience` may see (broadcasts and their own), in id order."""
    visible = Event.audience.is_(None)
    if audience:
        visible = or_(visible, Event.audience == audience)
    query = select(Event).where(Event.id > after_id, visible).order_by(Event.id).limit(limit)
    return list(session.scalars(query))


def fetch_every(session: Session, after_id: int, *, limit: int = 200) -> list[Event]:
    """Events newer than `after_id` for every audience, in id order (streams filter their own)."""
    return list(session.scalars(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)))


def visible_to(event: Event, audience: str | None) -> bool:
    """Broadcasts are everyone's; an event with an audience is only that user's."""
    return event.audience is None or (audience is not None and event.audience == audience)


def latest_id(session: Session) -> int:
    """The id of the newest event (0 when there is none): where a fresh console starts reading."""
    return session.scalar(select(func.max(Event.id))) or 0


class Cursor:
    """Where one reader is in the outbox, tolerant of ids that commit out of order.

    On PostgreSQL two transactions can take ids 10 and 11 and commit 11 first; a reader that
    simply moved past 11 would never see 10. The cursor keeps reading from below such a gap
    for GAP_GRACE_SECONDS (a rolled-back transaction leaves a gap that never fills) and skips
    what it has already delivered.
    """

    def __init__(self, after_id: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.high = after_id
        self._clock = clock
        self._gaps: dict[int, float] = {}
        self._delivered: set[int] = set()

    @property
    def floor(self) -> int:
        """Read events with ids above this."""
        self._expire()
        return min(self._gaps, default=self.high + 1) - 1

    def take(self, ids: list[int]) -> list[int]:
        """Of the ids just read (ascending), those not delivered before; notes new gaps."""
        now = self._clock()
        fresh = []
        for event_id in ids:
            if event_id in self._delivered or (event_id <= self.high and event_id not in self._gaps):
                continue
            self._gaps.pop(event_id, None)
            for missing in range(self.high + 1, event_id):
                self._gaps[missing] = now
            self.high = max(self.high, event_id)
            fresh.append(event_id)
        self._delivered.update(fresh)
        self._expire()
        return fresh

    def awaiting(self, event_id: int) -> bool:
        """True if `event_id` is a gap this cursor still reads below for (it may arrive late)."""
        return event_id in self._gaps

    def _expire(self) -> None:
        now = self._clock()
        for event_id, since in list(self._gaps.items()):
            if now - since > GAP_GRACE_SECONDS:
                del self._gaps[event_id]
        floor = min(self._gaps, default=self.high + 1) - 1
        self._delivered = {i for i in self._delivered if i > floor}


class Subscriber:
    """Wakes this process's readers when any process publishes an event.

    One per process and database: on PostgreSQL a thread LISTENs on NOTIFY_CHANNEL, on SQLite
    a thread polls the newest id. It runs only while someone is subscribed, so an idle process
    (a CLI command, a test without consoles) holds no thread and no connection.
    """

    def __init__(self, database) -> None:
        self.database = database
        self._latest = 0
        self._condition = threading.Condition()
        self._subscribers = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    @property
    def latest(self) -> int:
        """The newest event id this process knows has been published."""
        with self._condition:
            return self._latest

    @contextlib.contextmanager
    def subscription(self) -> Iterator["Subscriber"]:
        """Hold the watcher thread running for the block."""
        with self._condition:
            self._subscribers += 1
            if self._thread is None or not self._thread.is_alive() or self._stop.is_set():
                # A watcher told to stop may still be finishing its wait: it goes, with its own
                # stop signal, and a new one starts (else this subscriber would have none).
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,), name="siaga112-events",
                                                daemon=True)
                self._thread.start()
        try:
            yield self
        finally:
            with self._condition:
                self._subscribers -= 1
                if self._subscribers == 0:
                    self._stop.set()

    def add_listener(self, wake: Callable[[], None]) -> None:
        """Call `wake()` (quick, never blocking) each time a newer event is known."""
        with self._condition:
            self._listeners.append(wake)

    def remove_listener(self, wake: Callable[[], None]) -> None:
        with self._condition:
            if wake in self._listeners:
                self._listeners.remove(wake)

    def stop(self) -> None:
        """Stop the watcher thread now and wait for it (for clean shutdown in tests and serve)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _advance(self, event_id: int) -> None:
        with self._condition:
            if event_id > self._latest:
                self._latest = event_id
                self._condition.notify_all()
                for wake in self._listeners:
                    wake()

    def _read_latest(self) -> None:
        with self.database.session() as session:
            self._advance(latest_id(session))

    def _run(self, stop: threading.Event) -> None:
        try:
            with self.database.session() as session:  # a database emptied since (tests) starts low again
                newest = latest_id(session)
            with self._condition:
                self._latest = min(self._latest, newest)
        except Exception:  # the loop below retries until the database answers
            log.warning("event watcher could not read the newest event; retrying", exc_info=True)
        while not stop.is_set():
            try:
                self._read_latest()
                if self.database.dialect == "postgresql":
                    self._listen(stop)
                else:
                    self._poll(stop)
            except Exception:  # a lost connection must not end live updates: log, pause, retry
                log.exception("event watcher failed; retrying")
                stop.wait(1.0)

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS):
            self._read_latest()

    def _listen(self, stop: threading.Event) -> None:
        import psycopg

        url = self.database.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as connection:
            connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            # Anything published between the first read and LISTEN taking effect is caught here.
            self._read_latest()
            while not stop.is_set():
                for notify in connection.notifies(timeout=LISTEN_TIMEOUT_SECONDS):
                    if notify.payload.isdigit():
                        self._advance(int(notify.payload))


_subscribers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_subscribers_lock = threading.Lock()


def subscriber(database) -> Subscriber:
    """The one Subscriber of this process for `database`."""
    with _subscribers_lock:
        found = _subscribers.get(database)
        if found is None:
            found = _subscribers[database] = Subscriber(database)
        return found
