"""A database wait with a bound: the work runs on a thread of its own, and the caller stops waiting.

A PostgreSQL that accepts connections but answers nothing (a stopped postmaster, a full disk
under it, a network that drops packets) holds a query for minutes, and no client-side setting
bounds a statement already sent. An alarm panel, though, waits only so long for its ACK and an
app for its answer: the paths that keep alarms wait here for at most their bound and then keep
what they could not write in the journal (`siaga112.journal`).

Each call runs on a worker thread that does nothing else meanwhile: a hung database must not
hold work queued behind it (it would run late, long after its caller gave up), so a worker
takes a job only when idle, and one whose job overruns is retired, never handed another. The
work that overruns is left to finish or fail on its own, so it must be safe to do twice (the
alarm paths write by a unique key, and the journal's replay finds the row it wrote). Workers
that finish in time are kept for the next call: starting a thread per call cost a busy
receiver a third of a millisecond each time.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


class TookTooLong(TimeoutError):
    """The database did not answer within the bound; the work may still finish later."""


class _Worker:
    """A thread that runs one job at a time, handed to it while it is idle."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.job: tuple | None = None
        self.retired = False
        threading.Thread(target=self._run, name="bounded-db", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            job, self.job = self.job, None
            if job is None:
                return
            work, done, outcome = job
            try:
                outcome.append((True, work()))
            except BaseException as error:  # handed to the caller, who decides what it means
                outcome.append((False, error))
            with self.lock:
                done.set()
                if self.retired:
                    return

    def give(self, job: tuple | None) -> None:
        self.job = job
        self.wake.set()


_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()
KEEP_IDLE = 32


def call_within(work: Callable[[], T], timeout_s: float, *, name: str = "bounded-db") -> T:
    """`work()`'s result, or its exception, if it finishes within `timeout_s`; else TookTooLong."""
    with _IDLE_LOCK:
        worker = _IDLE.pop() if _IDLE else None
    worker = worker or _Worker()
    done = threading.Event()
    outcome: list = []
    worker.give((work, done, outcome))
    if not done.wait(timeout_s):
        with worker.lock:
            if not done.is_set():
                worker.retired = True  # it ends once its job does; nothing more is given to it
                raise TookTooLong(f"the database did not answer within {timeout_s:g} s ({name})")
    with _IDLE_LOCK:
        if len(_IDLE) < KEEP_IDLE:
            _IDLE.append(worker)
            worker = None
    if worker is not None:
        worker.give(None)
    ok, value = outcome[0]
    if ok:
        return value
    raise value
