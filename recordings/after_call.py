"""The work after a call ends: register its files, make browser copies, queue full-call transcription."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from recordings.browser_copy import CopyBusy, CopyError, CopyStopped, make_browser_copy
from recordings.decode_turns import behind_the_pbx
from recordings.jobs import enqueue
from recordings.registry import AUDIBLE_STATES, register_call, unregistered_calls
from siaga112.db import utcnow
from siaga112.models import Recording

log = logging.getLogger(__name__)

# A statement still being transcribed live is queued as a fallback only (the live transcription
# may have died with a restart): the queue leaves it this long before looking at it.
STATEMENT_GRACE = timedelta(seconds=60)
# MixMonitor closes its file as the channel goes; a file still unclosed this soon after its
# last write is looked at again once before it is called truncated.
SETTLE_SECONDS = 2.0
UNCLOSED = "the recording was never closed: its WAV header has no length"


def after_call(runtime, call_id: int, *, settle_seconds: float = 0.0, stop: threading.Event | None = None) -> list[int]:
    """Register a call's recordings, copy them for browsers, queue their transcription; returns the recording ids."""
    settings = runtime.settings
    with runtime.database.session() as session:
        rows = register_call(session, call_id, recordings_dir=settings.recordings_dir)
        unsettled = [row.path for row in rows if row.state_reason == UNCLOSED and _recent(row.path, settle_seconds)]
    if unsettled:
        (stop or runtime.stopping).wait(settle_seconds)
        with runtime.database.session() as session:
            rows = register_call(session, call_id, recordings_dir=settings.recordings_dir)
    ids = [row.id for row in rows if row.state in AUDIBLE_STATES]
    for recording_id in ids:
        if runtime.stopping.is_set():
            break  # the copies are made by the sweep at the next start
        _copy(runtime, recording_id)
    with runtime.database.session() as session:
        for recording in session.scalars(select(Recording).where(Recording.id.in_(ids))):
            # The full call always goes to the queue; the statement is usually transcribed live already.
            if recording.kind == "full":
                enqueue(session, recording.id)
            elif recording.transcript_status in ("pending", "partial"):
                enqueue(session, recording.id, not_before=utcnow() + STATEMENT_GRACE)
    return [row.id for row in rows]


def _recent(path: str, seconds: float) -> bool:
    try:
        return seconds > 0 and time.time() - os.stat(path).st_mtime < seconds
    except OSError:
        return False


def _copy(runtime, recording_id: int) -> bool:
    """Make one recording's browser copy; True when this call made it."""
    with runtime.database.session() as session:
        recording = session.get(Recording, recording_id)
        if recording.browser_path and os.path.exists(recording.browser_path):
            return False  # made already (by the other of the after-call worker and the sweep)
        try:
            make_browser_copy(recording, runtime.settings.data_path, stop=runtime.stopping)
        except (CopyBusy, CopyStopped) as error:
            log.info("recording %s: %s", recording_id, error.reason)
            return False
        except CopyError as error:
            _uncopyable(runtime).add(recording_id)
            log.warning("recording %s has no browser copy: %s (the original is served)", recording_id, error.reason)
            return False
    return True


def register_missed(runtime) -> int:
    """Calls that ended without their recordings registered (the service was down, or the end came early)."""
    with runtime.database.session() as session:
        call_ids = unregistered_calls(session)
    for call_id in call_ids:
        if runtime.stopping.is_set():
            break  # the rest at the next start
        try:
            after_call(runtime, call_id)
        except Exception:
            log.exception("recordings of call %s could not be registered", call_id)
    return len(call_ids)


def _uncopyable(runtime) -> set[int]:
    """Recordings whose copy failed for good in this process (tried again at the next start)."""
    return runtime.client("uncopyable_recordings", lambda _settings: set())


def copy_missing(runtime, *, limit: int = 50) -> int:
    """Browser copies of audible recordings that have none: those a stop interrupted, or that a
    crash left behind after registering. The number made."""
    with runtime.database.session() as session:
        ids = list(session.scalars(
            select(Recording.id).where(Recording.state.in_(AUDIBLE_STATES), Recording.browser_path.is_(None))
            .order_by(Recording.id).limit(limit + len(_uncopyable(runtime)))))
    made = 0
    for recording_id in ids:
        if runtime.stopping.is_set():
            break
        if recording_id in _uncopyable(runtime):
            continue
        if _copy(runtime, recording_id):
            made += 1
    return made


class AfterCall:
    """The IVR's call-ended listener: hands each ended call to one background thread, returns at once."""

    def __init__(self, runtime, *, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.runtime = runtime
        self.settle_seconds = settle_seconds
        self._stop = threading.Event()
        # Copies for the browser are encoded here: behind the PBX on the CPU, like speech.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="recordings-after-call", initializer=behind_the_pbx)

    def __call__(self, call_id: int):
        return self._executor.submit(self._run, call_id)

    def _run(self, call_id: int) -> list[int]:
        try:
            return after_call(self.runtime, call_id, settle_seconds=self.settle_seconds, stop=self._stop)
        except Exception:  # the scheduler's sweep registers it later
            log.exception("recordings of call %s could not be registered now", call_id)
            return []

    def stop(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True)
