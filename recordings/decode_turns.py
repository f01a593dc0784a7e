"""Turns on the CPU for live transcriptions, the most urgent caller first.

A centre with two cores may have a dozen callers on the line at once, each transcribed live,
and a recogniser needs a good part of a core per caller: together they fall behind, and left to
the operating system's fair share every caller's text falls behind alike. What a call-taker
needs first is something to read about the caller they are about to pick up; a caller already
talking to a call-taker can be read a little later, and a call that has ended later still.
So each piece of decoding (half a second of audio, or one utterance) takes a turn from
`DecodeTurns`, which lets as many run at once as there are cores and, when a core frees, gives
it to the most urgent transcription waiting: a waiting caller with no text yet, then a waiting
caller with text, then a caller in conversation, then a call that is over; the oldest first in
each. Nothing is dropped: a transcription behind others catches up once the cores are free.

Speech work also runs at a lower CPU priority (`behind_the_pbx`): where Siaga112 shares a box
with Asterisk, a busy recogniser must never slow a ring, a bridge or a hang-up.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger(__name__)

# Urgency tiers (lower goes first).
WAITING_WITHOUT_TEXT = 0
WAITING_WITH_TEXT = 1
IN_CONVERSATION = 2
ENDED = 3

Urgency = Callable[[], tuple]

# The niceness of the threads that decode speech or encode recordings (Linux keeps it per thread,
# and a process they start inherits it): the PBX and the console are served first.
SPEECH_NICENESS = 10


def cpu_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def behind_the_pbx() -> None:
    """Lower the calling thread's CPU priority to SPEECH_NICENESS (never raise it; no-op where unsupported)."""
    try:
        thread = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread) < SPEECH_NICENESS:
            os.setpriority(os.PRIO_PROCESS, thread, SPEECH_NICENESS)
    except (AttributeError, OSError) as error:
        log.debug("speech threads keep their CPU priority: %s", error)


class DecodeTurns:
    """At most `slots` decodes at once; a freed slot goes to the waiter whose `urgency()` is least."""

    def __init__(self, slots: int | None = None) -> None:
        self.slots = max(1, slots or cpu_cores())
        self._lock = threading.Lock()
        self._busy = 0
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()

    @contextmanager
    def turn(self, urgency: Urgency) -> Iterator[None]:
        """Hold a slot for the body; waits for one when all are busy."""
        self._acquire(urgency)
        try:
            yield
        finally:
            self._release()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _acquire(self, urgency: Urgency) -> None:
        with self._lock:
            if self._busy < self.slots and not self._waiting:
                self._busy += 1
                return
            waiter = _Waiter(urgency, next(self._order))
            self._waiting.append(waiter)
        waiter.granted.wait()

    def _release(self) -> None:
        with self._lock:
            if not self._waiting:
                self._busy -= 1
                return
            # Urgency is read now, not when the waiter queued: a caller picked up meanwhile has
            # moved back.
            chosen = min(self._waiting, key=_Waiter.key)
            self._waiting.remove(chosen)
        chosen.granted.set()  # the slot passes to it: _busy stays


class _Waiter:
    __slots__ = ("urgency", "order", "granted")

    def __init__(self, urgency: Urgency, order: int) -> None:
        self.urgency = urgency
        self.order = order
        self.granted = threading.Event()

    def key(self) -> tuple:
        try:
            return (*self.urgency(), self.order)
        except Exception:  # a broken urgency must not stop the others' turns
            log.exception("live transcription urgency failed")
            return (ENDED, float("inf"), self.order)
