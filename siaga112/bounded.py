"""A database wait with a bound: the work runs on a thread of its own, and the caller stops waiting.

A PostgreSQL that accepts connections but answers nothing (a stopped postmaster, a full disk
under it, a network that drops packets) holds a query for minutes, and no client-side setting
bounds a statement already sent. An alarm panel, though, waits only so long for its ACK and an
app for its answer: the paths that keep alarms wait here for at most their bound and then keep
what they could not write in the journal (`siaga112.journal`).

Each call gets a fresh daemon thread rather than a pool's: a hung database would fill a pool
with stuck work, and work queued behind it would run late, long after its caller gave up. The
work that overruns is left to finish or fail on its own, so it must be safe to do twice (the
alarm paths write by a unique key, and the journal's replay finds the row it wrote).
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


class TookTooLong(TimeoutError):
    """The database did not answer within the bound; the work may still finish later."""


def call_within(work: Callable[[], T], timeout_s: float, *, name: str = "bounded-db") -> T:
    """`work()`'s result, or its exception, if it finishes within `timeout_s`; else TookTooLong."""
    done = threading.Event()
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as error:  # handed to the caller, who decides what it means
            outcome.append((False, error))
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(timeout_s):
        raise TookTooLong(f"the database did not answer within {timeout_s:g} s")
    ok, value = outcome[0]
    if ok:
        return value
    raise value
