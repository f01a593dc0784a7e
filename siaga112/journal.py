"""A durable local journal: what could not reach the database is kept on local disk, then replayed.

A call placed while the database is down, stopped or slow must still be on record once it is
back, with its answer and end in the order they happened. The writers on a caller's path (the
FastAGI steps, the AMI listener) therefore never wait long for the database: what they could
not write goes here, appended and fsynced before they go on (an SQLite file in WAL mode with
`synchronous=FULL`: one small local transaction, a few hundred microseconds), and a background
`Replayer` writes it to the database when it answers again.

Entries belong to a key (Asterisk's uniqueid for calls) and are replayed per key in the order
they were appended, each key's entries in one database transaction together with nothing else;
only after that commit are they marked done here. An entry appended while its key still has
entries waiting goes behind them (`holds`), so an answer never overtakes the call it answers.
The appliers are given by the domain that owns the entries and must be idempotent (a crash
between the database commit and the mark replays them once more); the calls' appliers find a
call by its uniqueid, which the database keeps unique.

Every process on one machine may share the file (SQLite's own locking); one of them at a time
replays (an exclusive lock on `replay.lock`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import orjson
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

FILE_NAME = "journal.sqlite"
REPLAY_EVERY_S = 1.0
STOP_SECONDS = 1.5  # the last replay at stop gets this long; serve must stop within 10 s
KEEP_DONE_S = 24 * 3600  # replayed entries are kept a day, for whoever asks what happened
WAITING_BATCH = 500  # entries read per replay round; a full round is followed by the next at once
GIVE_UP_AFTER = 50  # attempts of one key that failed for its own reason (not the database being away)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    at TEXT NOT NULL,
    done_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS entries_waiting ON entries (key, seq) WHERE done_at IS NULL;
"""


@dataclass(frozen=True)
class Entry:
    seq: int
    key: str
    kind: str
    data: dict
    at: datetime


# (session, entry) -> None: writes one entry to the database in the session's transaction.
Applier = Callable[[object, Entry], None]


class JournalError(OSError):
    """The journal could not be written (disk full, read-only, gone)."""


class Journal:
    """The journal file of one folder; safe to use from any thread."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self.appended = 0
        self.write_failures = 0
        self.last_failure: str | None = None
        self.last_failure_at: datetime | None = None

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def append(self, key: str, kind: str, data: dict, *, at: datetime | None = None) -> int:
        """Keep one entry on disk (fsynced when this returns); its sequence number.

        Raises JournalError when the disk will not take it: the caller's path goes on all the
        same (the dialplan queues the caller), and health says so.
        """
        at = at or datetime.now(timezone.utc)
        try:
            cursor = self._connection().execute(
                "INSERT INTO entries (key, kind, data, at) VALUES (?, ?, ?, ?)",
                (key, kind, orjson.dumps(data, option=orjson.OPT_NAIVE_UTC), at.isoformat()))
        except (sqlite3.Error, OSError, TypeError) as error:
            with self._lock:
                self.write_failures += 1
                self.last_failure = f"{error.__class__.__name__}: {error}"[:300]
                self.last_failure_at = datetime.now(timezone.utc)
            log.error("the journal at %s could not keep a %s for %s: %s", self.path, kind, key, error)
            raise JournalError(str(error)) from error
        with self._lock:
            self.appended += 1
        return cursor.lastrowid

    def append_many(self, entries: list[tuple[str, str, dict, datetime]]) -> None:
        """Keep several entries (key, kind, data, at) with one fsync: all of them or, raising
        JournalError, none. The alarm receiver keeps a whole batch of panels' frames this way."""
        try:
            rows = [(key, kind, orjson.dumps(data, option=orjson.OPT_NAIVE_UTC), at.isoformat())
                    for key, kind, data, at in entries]
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany("INSERT INTO entries (key, kind, data, at) VALUES (?, ?, ?, ?)", rows)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError, TypeError) as error:
            with self._lock:
                self.write_failures += 1
                self.last_failure = f"{error.__class__.__name__}: {error}"[:300]
                self.last_failure_at = datetime.now(timezone.utc)
            log.error("the journal at %s could not keep %d entries: %s", self.path, len(entries), error)
            raise JournalError(str(error)) from error
        with self._lock:
            self.appended += len(entries)

    def any_waiting(self) -> bool:
        """True while any entry waits to be replayed (those given up on aside): a writer that
        sees it keeps what comes next here too, behind them, rather than wait on the database."""
        try:
            return self._connection().execute(
                "SELECT 1 FROM entries WHERE done_at IS NULL AND attempts < ? LIMIT 1",
                (GIVE_UP_AFTER,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def holds(self, key: str) -> bool:
        """True while `key` has entries waiting: what comes next for it must queue behind them."""
        try:
            return self._connection().execute(
                "SELECT 1 FROM entries WHERE key = ? AND done_at IS NULL LIMIT 1", (key,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def waiting(self, limit: int = WAITING_BATCH) -> list[Entry]:
        """Entries not yet replayed, oldest first (those given up on left out)."""
        rows = self._connection().execute(
            "SELECT seq, key, kind, data, at FROM entries WHERE done_at IS NULL AND attempts < ? "
            "ORDER BY seq LIMIT ?", (GIVE_UP_AFTER, limit)).fetchall()
        return [Entry(seq, key, kind, orjson.loads(data), datetime.fromisoformat(at))
                for seq, key, kind, data, at in rows]

    def mark_done(self, seqs: list[int]) -> None:
        now = datetime.now(timezone.utc).isoformat()
        self._connection().executemany("UPDATE entries SET done_at = ? WHERE seq = ?", [(now, s) for s in seqs])

    def note_failure(self, seqs: list[int], error: str) -> None:
        self._connection().executemany(
            "UPDATE entries SET attempts = attempts + 1, last_error = ? WHERE seq = ?", [(error[:300], s) for s in seqs])

    def forget_old(self) -> None:
        cutoff = datetime.fromtimestamp(time.time() - KEEP_DONE_S, timezone.utc).isoformat()
        self._connection().execute("DELETE FROM entries WHERE done_at IS NOT NULL AND done_at < ?", (cutoff,))

    def counts(self) -> dict:
        """What /healthz shows: entries waiting, the oldest one's time, entries given up on."""
        try:
            waiting, oldest = self._connection().execute(
                "SELECT count(*), min(at) FROM entries WHERE done_at IS NULL AND attempts < ?",
                (GIVE_UP_AFTER,)).fetchone()
            stuck = self._connection().execute(
                "SELECT count(*) FROM entries WHERE done_at IS NULL AND attempts >= ?", (GIVE_UP_AFTER,)).fetchone()[0]
        except sqlite3.Error as error:
            return {"readable": False, "reason": str(error)[:200]}
        return {"readable": True, "waiting": waiting, "oldest_waiting_at": oldest, "given_up": stuck}

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class Replayer:
    """Writes the journal's waiting entries to the database, key by key, in order.

    `appliers` maps an entry kind to the function that writes it; `after_commit(entries, notes)`
    is told what was written and what the appliers noted in the session's `info` (e.g. a call
    whose end was written, to start the work after it), once committed and only then. Runs every REPLAY_EVERY_S
    seconds and at once when `wake()` is called; one process per journal folder replays at a time.
    """

    def __init__(self, journal: Journal, database, appliers: dict[str, Applier], *,
                 after_commit: Callable[[list[Entry], dict], None] | None = None,
                 every_s: float = REPLAY_EVERY_S,
                 name: str = "journal-replay") -> None:
        self.journal = journal
        self.database = database
        self.appliers = appliers
        self.after_commit = after_commit
        self.every_s = every_s
        self.replayed = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._lock_file = None

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, *, timeout_s: float = STOP_SECONDS) -> None:
        """One last replay of what waits (bounded: a database that does not answer is left to the
        next start, which finds the entries on disk), then end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _run(self) -> None:
        last_cleanup = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.every_s)
            self._wake.clear()
            if self._stop.is_set():
                self._last_round()
                return
            if not self._hold_lock():
                continue
            try:
                if self.replay_once() >= WAITING_BATCH:
                    self._wake.set()  # a backlog: the next round goes at once, not a second later
                if time.monotonic() - last_cleanup > 3600:
                    self.journal.forget_old()
                    last_cleanup = time.monotonic()
            except Exception:  # the next round tries again; the entries stay on disk
                log.exception("journal replay failed; trying again shortly")

    def _last_round(self) -> None:
        try:
            if self._hold_lock():
                self.replay_once(stopping=False)
        except Exception:
            log.exception("the last journal replay failed; the entries wait for the next start")

    def _hold_lock(self) -> bool:
        if self._lock_file is not None:
            return True
        try:
            self.journal.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.journal.folder / "replay.lock", "a")
        except OSError:
            return False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another replayer (this process's other service, or another process) has it
            handle.close()
            return False
        self._lock_file = handle
        return True

    def replay_once(self, *, stopping: bool = True) -> int:
        """Replay what is waiting now; the number of entries written. Stops at the first key the
        database does not take because it is away (the others would fail the same way), and
        (`stopping`) when the replayer is told to stop."""
        entries = self.journal.waiting()
        by_key: dict[str, list[Entry]] = {}
        for entry in entries:
            by_key.setdefault(entry.key, []).append(entry)
        written = 0
        for key, group in by_key.items():
            if stopping and self._stop.is_set():
                break
            try:
                with self.database.session() as session:
                    for entry in group:
                        self.appliers[entry.kind](session, entry)
                    notes = session.info
            except IntegrityError:
                # The write a caller gave up on went through meanwhile (it was running when the
                # database stopped answering); the next round finds it and writes the rest.
                log.info("journal entries of %s met a row written meanwhile; replayed again", key)
                self.journal.note_failure([e.seq for e in group], "met a row written meanwhile")
                continue
            except Exception as error:
                if database_away(error):
                    log.info("journal replay waits: the database is away (%s)", error.__class__.__name__)
                    return written
                log.exception("journal entries of %s could not be written; kept and tried again", key)
                self.journal.note_failure([e.seq for e in group], f"{error.__class__.__name__}: {error}")
                continue
            self.journal.mark_done([e.seq for e in group])
            written += len(group)
            self.replayed += len(group)
            if self.after_commit is not None:
                try:
                    self.after_commit(group, notes)
                except Exception:
                    log.exception("work after replaying %s failed", key)
        if written:
            log.info("journal: %d entries written to the database", written)
        return written


def database_away(error: BaseException) -> bool:
    """True for an error that says the database is not there (refused, dropped, a full pool, a
    wait given up on), as against one that says something about what was being written."""
    from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

    if isinstance(error, (PoolTimeout, TimeoutError)):
        return True
    return isinstance(error, DBAPIError) and (error.connection_invalidated or
                                             error.__class__.__name__ == "OperationalError")


def journal_health(journal: Journal, disk_warning_free_percent: float) -> dict:
    """A journal's health for /healthz and the floor: `ok`; `warning` when entries wait to be
    written or its disk runs low; `failing` when it cannot be written."""
    from siaga112.storage import disk_health, write_probe

    folder = str(journal.folder)
    body = {**journal.counts(), **disk_health(folder, disk_warning_free_percent)}
    body["disk"] = body.pop("status")
    body["write_failures"] = journal.write_failures
    if journal.last_failure:
        body["last_failure"] = journal.last_failure
    failure = write_probe(folder) if journal.folder.exists() else None
    body["writable"] = failure is None
    if failure:
        body["write_error"] = failure
    if failure or body["disk"] in ("full", "unreadable") or not body.get("readable", True):
        body.update(status="failing", alert="critical")
    elif body["disk"] == "low" or body.get("waiting") or body.get("given_up"):
        body.update(status="warning", alert="warning")
    else:
        body["status"] = "ok"
    return body
