"""Database work of the FastAGI service: off the event loop, many calls per transaction.

A SQLite commit with `synchronous=FULL` waits for the disk; a thousand calls committing one by
one would queue behind each other and, done on the event loop, stall every caller's prompts.
So one writer thread takes every job waiting at that moment, runs them in one transaction and
commits once ("group commit"); each job's coroutine gets its own result. Jobs of the same
batchable kind (opening calls, queuing them) are run together as a handful of multi-row
statements rather than a few statements per call. If any job of a group fails, the group is
rolled back and each job is run again alone, so one bad call never costs another call its record.

A caller never waits long on the database: `run` gives up after `timeout_s` (the
`ivr_db_timeout_seconds` setting, under a second), and a job whose caller gave up is never run
later, when a stopped or hung database answers again; its caller's IVR keeps what it could not
write in the call journal instead (`ivr/call_journal.py`), which writes it exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any, Callable, Protocol, TypeVar

from sqlalchemy.orm import Session

from siaga112.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_GROUP = 500
# A caller must never wait on a stuck database: past this, the IVR goes on without its write
# (it goes to the call journal, and the dialplan queues the caller all the same).
JOB_TIMEOUT_SECONDS = 0.8
STOP_SECONDS = 1.5
_STOP = object()


class BatchJob(Protocol):
    """A job that can run together with others of its kind: `run_batch(session, jobs)` returns
    one result per job, in order."""

    @classmethod
    def run_batch(cls, session: Session, jobs: list) -> list: ...


class CallStore:
    """Runs `job(session)` functions in a writer thread with group commit; awaitable from asyncio."""

    def __init__(self, database: Database, *, max_group: int = MAX_GROUP,
                 timeout_s: float = JOB_TIMEOUT_SECONDS) -> None:
        self.database = database
        self.max_group = max_group
        self.timeout_s = timeout_s
        self.abandoned = 0  # jobs whose callers stopped waiting before they ran: never run
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.groups = 0
        self.jobs_done = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="ivr-db", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the jobs already handed in, then stop the thread."""
        if self._thread is not None:
            self._jobs.put(_STOP)
            # A database that stopped answering holds the thread; callers are not waiting on it
            # (their writes are in the call journal), so stopping does not wait for it either.
            self._thread.join(timeout=STOP_SECONDS)
            self._thread = None

    async def run(self, job: Callable[[Session], T] | BatchJob) -> T:
        """Run `job` in the next group and return what it returned (or raise what it raised).

        `job` is a function of the session, or a BatchJob run with the others of its kind."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((job, future, loop))
        # On timeout the future is cancelled with the wait: the writer then skips the job.
        async with asyncio.timeout(self.timeout_s):
            return await future

    # --- the writer thread -------------------------------------------------------------

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < self.max_group:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            # A job whose caller gave up waiting (a database that stopped answering, now back)
            # must not run now: the call journal has it, and writes it once.
            waiting = [item for item in group if not item[1].done()]
            self.abandoned += len(group) - len(waiting)
            group = waiting
            if not group:
                continue
            try:
                self._run_group(group)
            except BaseException as error:  # the writer thread must outlive any one group
                log.exception("IVR database group failed unexpectedly")
                for _job, future, loop in group:
                    try:
                        loop.call_soon_threadsafe(_deliver, [(future, (None, error))])
                    except RuntimeError:
                        pass

    def _run_group(self, group: list) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self.database.session() as session:
                outcomes = _run_jobs(session, [job for job, _future, _loop in group])
        except Exception as error:
            if len(group) == 1:
                outcomes = [(None, error)]
            else:
                log.warning("a group of %d IVR writes failed; running each alone", len(group))
                outcomes = [self._run_alone(job) for job, _future, _loop in group]
        self.groups += 1
        self.jobs_done += len(group)
        by_loop: dict[Any, list] = {}
        for (_job, future, loop), outcome in zip(group, outcomes):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, deliveries in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, deliveries)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass

    def _run_alone(self, job) -> tuple[Any, BaseException | None]:
        try:
            with self.database.session() as session:
                return _run_jobs(session, [job])[0]
        except Exception as error:
            return None, error


def _run_jobs(session: Session, jobs: list) -> list[tuple[Any, None]]:
    """Run jobs in the order they came; consecutive batchable jobs run kind by kind together.

    Order matters across kinds: a call's `call-ended` (a plain job) must not overtake the IVR's
    own last write for that call, handed in just before it.
    """
    results: list[Any] = [None] * len(jobs)
    pending: dict[type, list[int]] = {}

    def run_pending() -> None:
        for kind, indexes in pending.items():
            for index, result in zip(indexes, kind.run_batch(session, [jobs[i] for i in indexes])):
                results[index] = result
        pending.clear()

    for index, job in enumerate(jobs):
        if hasattr(job, "run_batch"):
            pending.setdefault(type(job), []).append(index)
        else:
            run_pending()
            results[index] = job(session)
    run_pending()
    return [(result, None) for result in results]


def _deliver(deliveries: list) -> None:
    for future, (result, error) in deliveries:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
