"""The SIA DC-09 receiver: alarm panels report over TCP; every alarm is stored before its ACK.

pysiaalarm's own servers send the ACK and only then call the consumer, so a crash in between
loses an alarm the panel believes delivered and will never resend. This receiver uses
pysiaalarm for reading frames and building replies (`routing.alarms.dc09`) but runs its own
asyncio server: a frame that needs storing goes to the group committer, which gathers the
frames arriving within a few milliseconds across all connections, stores them in one
transaction, and only after the commit releases their replies. One fsync then covers many
panels: that, not skipping the fsync, is what brings stored-before-ACK close to the bare rate.

When the database refuses, or does not answer within `alarm_db_timeout_seconds` (a hung
PostgreSQL), the batch is appended to the alarm journal instead (`routing.alarms.journal`, one
fsync) and acknowledged then; the journal's replayer stores it when the database is back. A
frame goes unacknowledged (NAK, and the panel resends) only when neither could take it.

Consumers (callables given the summaries of the new alarms, as consoles see them) run after
the commit; one that fails is logged and counted and never stops the receiver. Alarms kept in
the journal reach the consoles when they are written (`alarm.new`), not through the consumers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pysiaalarm import SIAAccount
from sqlalchemy import select

from siaga112.db import utcnow
from siaga112.models import AlarmSite
from siaga112.runtime import Runtime
from siaga112.storable import clean, evidence
from siaga112.storage import read_private_copy, write_private_copy
from siaga112.bounded import call_within
from siaga112.journal import JournalError, database_away
from routing.alarms import dc09
from routing.alarms.journal import alarm_journal, panel_entry, start_replayer, stop_replayer
from routing.alarms.store import AlarmIntake, RouteMemo, take_alarms
from routing.alarms.supervision import mark_seen, note_restore

log = logging.getLogger(__name__)

Consumer = Callable[[list[dict]], None]

GROUP_COMMIT_MS = 2.0  # how long the committer waits for more frames once one has arrived
WINDOW_POLL_S = 0.0002  # how often the committer looks at the queue during the window
MAX_BATCH = 500
IDLE_TIMEOUT_S = 600.0  # a panel connection silent this long is closed
FRAME_LIMIT = dc09.MAX_FRAME_BYTES * 2  # bytes without a CR after which a connection is refused
ACCOUNT_RELOAD_MIN_S = 1.0  # an unknown account's frames reload the accounts at most this often
ACCOUNT_RETRY_S = 2.0  # how often a receiver started without the database asks it for the accounts again
ACCOUNTS_COPY = "dc09-accounts.json"
STOP_SECONDS = 5.0  # serve stops within 10 s whatever the database does


@dataclass(frozen=True)
class SiteRef:
    """What the receiver needs of a site to store its alarms without a query per frame."""

    id: int
    name: str
    lat: float
    lon: float


@dataclass
class ReceiverCounts:
    """What the receiver has seen; refusals by kind (see `dc09.REFUSALS`).

    The event loop and the group committer count at once, so counts shared between threads
    go through `add`.
    """

    frames: int = 0
    acked: int = 0
    alarms_stored: int = 0
    retransmissions: int = 0
    store_errors: int = 0
    kept: int = 0  # frames kept in the alarm journal (the database away or slow) and acknowledged
    consumer_errors: int = 0
    refused: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, increment in increments.items():
                setattr(self, name, getattr(self, name) + increment)


class AccountBook:
    """Registered DC-09 accounts, read from the database and reloaded when an unknown one calls.

    A miss reloads at once, but each account's misses reload at most once per
    `reload_after_miss_s`, so a panel we do not know cannot make every frame a database query.

    Each read is also copied to `journal_dir/dc09-accounts.json` (owner-only: it holds the
    accounts' keys, as the database does), so that a receiver started while the database is
    away still knows its panels: their frames are then kept in the alarm journal and
    acknowledged, as when the database goes away later.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts: dict[str, SIAAccount] = {}
        self.sites: dict[str, SiteRef] = {}
        self.reload_after_miss_s = ACCOUNT_RELOAD_MIN_S
        self._misses: dict[str | None, float] = {}
        self.from_database = False  # False while the accounts known are the copy's (or none)

    @property
    def copy_path(self) -> Path:
        return Path(self.runtime.settings.journal_dir) / ACCOUNTS_COPY

    def reload(self) -> None:
        with self.runtime.database.session() as session:
            rows = session.scalars(select(AlarmSite).where(AlarmSite.account.is_not(None))).all()
            accounts = {row.account.upper(): (row.aes_key or None, SiteRef(row.id, row.name, row.lat, row.lon))
                        for row in rows}
        self._take(accounts)
        self.from_database = True
        try:
            self._write_copy(accounts)
        except OSError as error:  # the copy only helps a start without the database
            log.warning("the DC-09 accounts could not be copied to %s: %s", self.copy_path, error)

    def load_copy(self) -> bool:
        """The accounts of the last read, from the local copy; False if there is none to read."""
        try:
            copy = read_private_copy(self.copy_path)
            if copy is None:
                return False
            accounts = {entry["account"]: (entry["key"], SiteRef(**entry["site"])) for entry in copy[0]["accounts"]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("the copy of the DC-09 accounts at %s cannot be read: %s", self.copy_path, error)
            return False
        self._take(accounts)
        return True

    def _take(self, accounts: dict[str, tuple[str | None, SiteRef]]) -> None:
        # Sites first: the event loop reads both meanwhile, and an account it knows must have its
        # site (a frame of an account without one is taken for a receiver's heartbeat).
        self.sites = {account: site for account, (_key, site) in accounts.items()}
        self.accounts = {account: SIAAccount(account, key) for account, (key, _site) in accounts.items()}

    def _write_copy(self, accounts: dict[str, tuple[str | None, SiteRef]]) -> None:
        write_private_copy(self.copy_path, {"accounts": [
            {"account": account, "key": key, "site": dataclasses.asdict(site)}
            for account, (key, site) in sorted(accounts.items())]})

    def should_reload_for(self, account: str | None) -> bool:
        """True when this account's miss may reload the accounts now (and notes the attempt)."""
        now = time.monotonic()
        if now - self._misses.get(account, -1e9) < self.reload_after_miss_s:
            return False
        if len(self._misses) > 10_000:
            self._misses.clear()
        self._misses[account] = now
        return True


@dataclass
class Pending:
    """A frame accepted by reading, waiting for its commit before its reply goes out."""

    line: str
    reading: dc09.Reading
    site: SiteRef
    loop: asyncio.AbstractEventLoop
    connection: PanelConnection


_STOP = object()


class GroupCommitter:
    """A thread that stores accepted frames in batches and then releases their replies.

    One thread, on SQLite (one writer at a time) as on PostgreSQL: a batch costs the
    interpreter little beyond its rows (`siaga112.bulk`), and a second committer on
    PostgreSQL measured slower, its smaller batches costing more per frame and taking the
    interpreter lock from the thread that reads the panels more often.
    """

    def __init__(self, runtime: Runtime, counts: ReceiverCounts, consumers: list[Consumer],
                 window_s: float = GROUP_COMMIT_MS / 1000, max_batch: int = MAX_BATCH) -> None:
        self.runtime = runtime
        self.counts = counts
        self.consumers = consumers
        self.window_s = window_s
        self.max_batch = max_batch
        self.routes = RouteMemo()
        self.journal = alarm_journal(runtime)
        self.db_wait_s = runtime.settings.alarm_db_timeout_seconds
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="sia-group-commit", daemon=True)
        self.batches = 0
        self._last_batch = 0
        self._committing = 0  # frames in the batch being stored now (their panels send nothing until answered)
        self.open_connections = 0  # kept by the event loop; read here to know when a batch is whole

    def start(self) -> None:
        self.thread.start()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        """Store what is queued, release its replies, then end the thread."""
        self.queue.put(_STOP)
        # A database that stopped answering holds the thread: its frames are not acknowledged
        # (the panels resend them to the next start), so stopping does not wait for it long.
        self.thread.join(timeout=STOP_SECONDS)

    def submit(self, pending: Pending) -> None:
        self.queue.put(pending)

    def _gather(self, first: Pending) -> tuple[list[Pending], bool]:
        """The first frame and those arriving within the window.

        A panel has one frame in flight at a time, so once every open connection has a frame
        in this batch or in one being stored there is nothing more to wait for. When traffic is
        light (the last batch was a single frame) there is no waiting at all. The committer looks at the queue a few
        times per window rather than waking for each frame: every wake-up would take the
        interpreter lock from the thread that reads the panels.
        """
        batch = [first]
        deadline = time.monotonic() + (self.window_s if self._last_batch > 1 else 0.0)
        while True:
            while len(batch) < self.max_batch:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    return batch, True
                batch.append(item)
            whole = max(1, self.open_connections - self._committing)
            if len(batch) >= min(self.max_batch, whole) or time.monotonic() >= deadline:
                return batch, False
            time.sleep(WINDOW_POLL_S)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is _STOP:
                break
            batch, stopping = self._gather(first)
            self._last_batch = self._committing = len(batch)
            try:
                self._commit(batch)
            finally:
                self._committing = 0
        while True:  # anything that slipped in behind the stop marker is still stored
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._commit([item])

    def _commit(self, batch: list[Pending]) -> None:
        """Store the batch and release its replies: ACK once stored in the database or kept in
        the alarm journal, NAK (the panel resends) when neither could take a frame."""
        self.batches += 1
        if self.journal.any_waiting():  # alarms already wait for the database: these go behind them
            self._keep(batch)
            return
        try:
            created, repeats = self._store_within(batch)
            new_alarms, replies = created, [(pending, pending.reading.reply) for pending in batch]
            self.counts.add(alarms_stored=len(created), retransmissions=repeats, acked=len(batch))
        except Exception as error:
            if database_away(error):
                self._keep(batch)
                return
            log.exception("storing a batch of %s panel frames failed; storing them one by one", len(batch))
            new_alarms, replies = [], []
            for number, pending in enumerate(batch):
                try:
                    created, repeats = self._store_within([pending])
                    new_alarms += created
                    replies.append((pending, pending.reading.reply))
                    self.counts.add(alarms_stored=len(created), retransmissions=repeats, acked=1)
                except Exception as error:
                    if database_away(error):
                        _release(replies)
                        self._consume(new_alarms)
                        self._keep(batch[number:])
                        return
                    log.exception("a panel frame could not be stored; it gets NAK and the panel will resend: %r",
                                  pending.line)
                    self.counts.add(store_errors=1)
                    replies.append((pending, dc09.nak()))
        _release(replies)
        self._consume(new_alarms)

    def _store_within(self, batch: list[Pending]) -> tuple[list[dict], int]:
        """`_store`, waiting at most `alarm_db_timeout_seconds`: a hung database must not hold
        the panels' ACKs past their timeout (TookTooLong; the late write then meets the journal's
        replay at the frames' retransmission keys, so nothing is stored twice)."""
        return call_within(lambda: self._store(batch), self.db_wait_s, name="sia-store")

    def _keep(self, batch: list[Pending]) -> None:
        """Keep the frames in the alarm journal (one fsync) and ACK them; NAK if it cannot."""
        try:
            self.journal.append_many([_entry(pending) for pending in batch])
        except JournalError:
            log.error("%d panel frames could be neither stored nor kept; NAK, the panels resend them", len(batch))
            self.counts.add(store_errors=len(batch))
            _release([(pending, dc09.nak()) for pending in batch])
            return
        self.counts.add(kept=len(batch), acked=len(batch))
        _release([(pending, pending.reading.reply) for pending in batch])

    def _store(self, batch: list[Pending]) -> tuple[list[dict], int]:
        """One transaction: the batch's sites' last report (offline cleared), its alarms, restores.
        The console summaries of the new alarms, and how many were retransmissions."""
        now = utcnow()
        alarm_items = [p for p in batch if p.reading.consequence.action == "alarm"]
        with self.runtime.database.session() as session:
            sites = mark_seen(session, list({p.site.id for p in batch}), now)
            results = take_alarms(session, self.runtime, [_intake(p) for p in alarm_items], routes=self.routes,
                                  with_summaries=bool(self.consumers), parties=sites)
            for pending in batch:
                if pending.reading.consequence.action == "restore":
                    note_restore(session, pending.site.id, pending.reading.consequence.kind,
                                 pending.reading.describe())
        created = [taken.summary for taken in results if taken.created]
        return created, len(results) - len(created)

    def _consume(self, alarms: list[dict]) -> None:
        if not alarms:
            return
        for consumer in self.consumers:
            try:
                consumer(alarms)
            except Exception:
                self.counts.add(consumer_errors=1)
                log.exception("alarm consumer %r failed; the receiver goes on", consumer)


def _entry(pending: Pending):
    """A frame as the alarm journal keeps it (written later by `routing.alarms.journal`)."""
    consequence = pending.reading.consequence
    action = consequence.action
    return panel_entry(pending.site.id, action, _intake(pending) if action == "alarm" else None,
                       (consequence.kind, pending.reading.describe()) if action == "restore" else None)


def _intake(pending: Pending) -> AlarmIntake:
    reading, site = pending.reading, pending.site
    event, consequence = reading.event, reading.consequence
    return AlarmIntake(
        source="panel", kind=consequence.kind, category=consequence.category, priority=consequence.priority,
        lat=site.lat, lon=site.lon, site_id=site.id, dedupe_key=reading.retransmission_key,
        raw=evidence(pending.line), message=clean(f"{site.name}: {reading.describe()}", 500),
        flags={"sia_code": event.code, "zone": event.ri, "account": reading.account, "sequence": event.sequence},
    )


def _release(replies: list[tuple[Pending, bytes]]) -> None:
    """Hand the replies of a stored batch to the event loop with one wake-up, not one per frame."""
    if not replies:
        return

    def deliver() -> None:
        for pending, reply in replies:
            pending.connection.answer(reply)

    try:
        replies[0][0].loop.call_soon_threadsafe(deliver)
    except RuntimeError:  # the loop is gone: the connections are closed, the panels will resend
        pass


class PanelConnection(asyncio.Protocol):
    """One panel's TCP connection: frames cut at CR and answered in order, one at a time.

    A bare Protocol rather than streams: a frame costs no task switch, future or drain, which
    at 50 busy panels is a good part of the event loop's work. A frame waiting for its
    commit holds the frames behind it (a panel sends the next one only after its ACK anyway),
    so replies can never overtake each other.
    """

    def __init__(self, service: AlarmReceiverService) -> None:
        self.service = service
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting = False  # a frame of this panel is being stored or needs the accounts reloaded
        self.closed = False
        self.last_heard = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.service._panels.add(self)
        self.service.committer.open_connections += 1

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.service._panels.discard(self)
        self.service.committer.open_connections -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.last_heard = time.monotonic()
        if self.waiting and len(self.buffer) > FRAME_LIMIT * 4:
            self.transport.pause_reading()  # a sender that does not wait for its replies waits here
        self._read_frames()

    def answer(self, reply: bytes | None) -> None:
        """The reply to the frame that was waiting (on the event loop); then the frames behind it."""
        self.waiting = False
        if self.closed:
            return
        if reply:
            self.transport.write(reply)
        self._read_frames()
        if not self.waiting:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def _read_frames(self) -> None:
        while not self.waiting and not self.closed:
            end = self.buffer.find(b"\r")
            if end < 0:
                if len(self.buffer) > FRAME_LIMIT:
                    # No CR within the limit: not DC-09. Refuse and hang up (the buffer is lost).
                    self.service.counts.frames += 1
                    self.service.counts.refused["oversize"] += 1
                    self.transport.write(dc09.nak())
                    self.buffer.clear()
                    self.transport.close()
                return
            raw = bytes(self.buffer[:end + 1])
            del self.buffer[:end + 1]
            reply = self.service._answer(raw, self)
            if reply:
                self.transport.write(reply)


class AlarmReceiverService:
    """`siaga112 serve`'s alarm service: the DC-09 receiver on `sia_port` (0 picks a free port)."""

    name = "alarms"

    def __init__(self, runtime: Runtime, *, consumers: list[Consumer] | None = None,
                 group_commit_ms: float | None = None, max_batch: int = MAX_BATCH, host: str | None = None,
                 port: int | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.host = host or settings.bind_host
        self.requested_port = settings.sia_port if port is None else port
        self.port: int | None = None
        self.counts = ReceiverCounts()
        self.consumers: list[Consumer] = list(consumers or [])
        window_ms = group_commit_ms if group_commit_ms is not None else settings.sia_group_commit_ms
        self.book = AccountBook(runtime)
        self.committer = GroupCommitter(runtime, self.counts, self.consumers, window_ms / 1000, max_batch)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._panels: set[PanelConnection] = set()
        self._reloads: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._reload_lock: asyncio.Lock | None = None
        self._stopping = threading.Event()
        self._account_retry: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Load the accounts, warm up routing, and listen; returns once the port is bound.

        A database that is away does not keep the receiver from starting: it starts with the
        accounts of the last read (`AccountBook`), keeps frames in the alarm journal as it would
        have anyway, and reads the accounts again every ACCOUNT_RETRY_S until the database answers.
        """
        if not self._load_accounts():
            copied = self.book.load_copy()
            log.warning("the database did not give the DC-09 accounts; starting with %s, and asking it again every "
                        "%g s", f"{len(self.book.accounts)} from the last copy" if copied else "none known",
                        ACCOUNT_RETRY_S)
            self._account_retry = threading.Thread(target=self._retry_accounts, name="sia-accounts", daemon=True)
            self._account_retry.start()
        else:
            self._warm_up_routing()
        start_replayer(self.runtime)
        self.committer.start()
        self._thread = threading.Thread(target=self._run, name="sia-receiver", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._start_error is not None:
            self.committer.stop()
            stop_replayer(self.runtime)
            raise self._start_error
        log.info("SIA DC-09 receiver on %s:%s (%s accounts)", self.host, self.port, len(self.book.accounts))

    def _load_accounts(self) -> bool:
        """Read the accounts within the database bound; False if the database is away."""
        try:
            call_within(self.book.reload, self.runtime.settings.alarm_db_timeout_seconds, name="sia-accounts")
        except Exception as error:
            if not database_away(error):
                raise
            return False
        return True

    def _retry_accounts(self) -> None:
        while not self._stopping.wait(ACCOUNT_RETRY_S):
            if self._load_accounts():
                log.info("DC-09 accounts read from the database (%s)", len(self.book.accounts))
                self._warm_up_routing()
                return

    def _warm_up_routing(self) -> None:
        """Build the routing engine now, so the first panic is not the one that waits for it."""
        try:
            from routing.service import engine_for

            with self.runtime.database.session() as session:
                engine_for(self.runtime).sync(session)
        except Exception:  # routing trouble is written on each alarm; it never stops the receiver
            log.exception("routing could not be prepared; alarms will be stored unrouted until it can")

    def stop(self) -> None:
        """Stop listening, store and answer what is in flight, close connections, join threads."""
        self._stopping.set()
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=STOP_SECONDS + 2)
            except TimeoutError:
                log.warning("the DC-09 receiver did not stop in time; unacknowledged frames are resent by their panels")
            self._thread.join(timeout=2)
        elif self.committer.is_alive():
            self.committer.stop()
        stop_replayer(self.runtime)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:  # the port is taken, or the host cannot be bound
            self._start_error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self) -> None:
        self._reload_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: PanelConnection(self), self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = loop.create_task(self._close_idle_panels())

    async def _shutdown(self) -> None:
        """Stop accepting, store and answer what is queued, then close every connection."""
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        # Python 3.11 leaks a socket accepted just before Server.close() (its accept task then
        # fails): stop accepting first, let accepts in progress finish, and only then close.
        for sock in self._server.sockets:
            loop.remove_reader(sock.fileno())
        for _ in range(100):
            if not [t for t in asyncio.all_tasks() if t not in (me, self._sweeper) and not t.done()]:
                break
            await asyncio.sleep(0)
        self._server.close()
        await loop.run_in_executor(None, self.committer.stop)
        await asyncio.sleep(0)  # the replies the committer released on its way out
        others = [task for task in asyncio.all_tasks() if task is not me]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        for panel in list(self._panels):
            panel.close()
        await asyncio.sleep(0)
        await self._server.wait_closed()
        loop.call_soon(loop.stop)

    async def _close_idle_panels(self) -> None:
        """Close connections silent past IDLE_TIMEOUT_S (not those waiting for their reply)."""
        while True:
            await asyncio.sleep(min(IDLE_TIMEOUT_S / 4, 60.0))
            silent_since = time.monotonic() - IDLE_TIMEOUT_S
            for panel in list(self._panels):
                if not panel.waiting and panel.last_heard < silent_since:
                    panel.close()

    # -- frames ----------------------------------------------------------------------------
    def _answer(self, raw: bytes, panel: PanelConnection) -> bytes | None:
        """The reply to one frame, or None when there is none yet: an accepted frame is handed
        to the committer and answered once what it says is stored (`PanelConnection.answer`)."""
        line = raw.decode("ascii", errors="ignore").strip()
        if not line:
            return None
        self.counts.frames += 1
        reading = dc09.read_frame(line, self.book.accounts)
        if reading.refusal in ("account", "format") and self.book.should_reload_for(reading.account):
            panel.waiting = True
            task = asyncio.get_running_loop().create_task(self._answer_after_reload(line, panel))
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)
            return None
        return self._accept(line, reading, panel)

    def _accept(self, line: str, reading: dc09.Reading, panel: PanelConnection) -> bytes | None:
        if not reading.accepted:
            self.counts.refused[reading.refusal] += 1
            log.warning("DC-09 frame refused (%s) from account %s: %r", reading.refusal, reading.account, line[:120])
            return reading.reply
        site = self.book.sites.get((reading.account or "").upper())
        if site is None:  # an OH receiver heartbeat: no account of ours, nothing to store
            self.counts.add(acked=1)
            return reading.reply
        panel.waiting = True
        self.committer.submit(Pending(line, reading, site, self._loop, panel))
        return None

    async def _answer_after_reload(self, line: str, panel: PanelConnection) -> None:
        """An unknown account or a frame no key opened: read the accounts again (a site may
        have been registered a moment ago), then answer as the frame now reads."""
        read_again = False
        async with self._reload_lock:
            try:
                await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, self.book.reload),
                                       self.runtime.settings.alarm_db_timeout_seconds)
                read_again = True
            except Exception as error:  # the database is away: answer from the accounts known
                log.warning("DC-09 accounts could not be read again (%s); answering from those known",
                            error.__class__.__name__)
        panel.waiting = False
        reading = dc09.read_frame(line, self.book.accounts)
        if reading.refusal == "account" and not read_again:
            # Perhaps a site registered while we could not read the accounts: NAK, and the panel
            # resends until we can (DUH would tell it to give up on a frame that may be an alarm).
            self.counts.refused["account"] += 1
            panel.answer(dc09.nak())
            return
        reply = self._accept(line, reading, panel)
        if not panel.waiting:
            panel.answer(reply)
