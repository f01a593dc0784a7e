"""The background transcription queue (table transcription_jobs): full calls, with word times.

A job is claimed with one conditional UPDATE (pending, or running with its lease run out), so
two workers, in one process or several, never take the same job, and nothing is transcribed
twice. A worker that dies leaves its job `running`; when the lease runs out another worker
takes it again. A job that raises is put back with a pause and given up after MAX_ATTEMPTS;
it never stops the jobs after it. The queue is in the database, so it survives a restart.

Who runs it: the scheduler service (`siaga112 serve`, service `scheduler`) calls `run_due`
every few seconds on its worker thread; each run drains what is due. Any number of
scheduler processes can share one PostgreSQL queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from recordings.decode_turns import behind_the_pbx
from recordings.health import speech_model
from recordings.keywords import load_keywords
from recordings.transcripts import boost_priority, save_transcript, triage_statement
from recordings.speech import FAILED, UNAVAILABLE, SpeechUnavailable, Transcript
from siaga112.db import utcnow
from siaga112.models import Recording, TranscriptionJob

log = logging.getLogger(__name__)

# A claim lasts this long plus twice the recording's length (decoding runs well under real time).
LEASE_SECONDS = 300
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60  # times the attempts so far: a failing job waits longer each time
POLL_SECONDS = 5  # how often the scheduler looks for due jobs

Transcribe = Callable[[str, str], Transcript]  # (path, kind) -> Transcript


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    recording_id: int
    call_id: int
    kind: str
    path: str
    attempts: int
    worker: str


def worker_name() -> str:
    """A name that tells workers apart in the table: host, process, and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def enqueue(session: Session, recording_id: int, *, not_before: datetime | None = None) -> None:
    """Queue a recording for transcription (not before `not_before`); one already queued is left as it is."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(TranscriptionJob).values(recording_id=recording_id, state="pending", attempts=0,
                                                    created_at=utcnow(), lease_until=not_before)
                    .on_conflict_do_nothing(index_elements=["recording_id"]))


def _due(now: datetime):
    """Jobs a worker may take now: pending and not paused, or running past their lease."""
    return and_(
        TranscriptionJob.attempts < MAX_ATTEMPTS,
        or_(
            and_(TranscriptionJob.state == "pending",
                 or_(TranscriptionJob.lease_until.is_(None), TranscriptionJob.lease_until <= now)),
            and_(TranscriptionJob.state == "running", TranscriptionJob.lease_until <= now),
        ),
    )


def claim(database, worker: str, *, now: datetime | None = None) -> ClaimedJob | None:
    """Take the oldest due job for `worker`, or None; a job another worker took first is skipped."""
    now = now or utcnow()
    with database.session() as session:
        candidates = session.execute(
            select(TranscriptionJob.id, TranscriptionJob.attempts, Recording.id, Recording.call_id, Recording.kind,
                   Recording.path, Recording.duration_s)
            .join(Recording, Recording.id == TranscriptionJob.recording_id)
            .where(_due(now)).order_by(TranscriptionJob.id).limit(10)
        ).all()
    for job_id, attempts, recording_id, call_id, kind, path, duration in candidates:
        lease = timedelta(seconds=LEASE_SECONDS + 2 * (duration or 0))
        with database.session() as session:
            taken = session.execute(
                update(TranscriptionJob)
                .where(TranscriptionJob.id == job_id, TranscriptionJob.attempts == attempts, _due(now))
                .values(state="running", worker=worker, lease_until=now + lease, attempts=attempts + 1,
                        started_at=utcnow(), finished_at=None)
            ).rowcount
        if taken == 1:
            return ClaimedJob(job_id, recording_id, call_id, kind, path, attempts + 1, worker)
    return None


def _finish(runtime, job: ClaimedJob, worker: str, transcript: Transcript) -> bool:
    """Store the transcript if the job is still ours; False if another worker took it meanwhile."""
    with runtime.database.session() as session:
        mine = session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id, TranscriptionJob.worker == worker,
                   TranscriptionJob.state == "running")
            .values(state="done", finished_at=utcnow(), lease_until=None,
                    error=transcript.reason[:300] if transcript.status != "done" and transcript.reason else None)
        ).rowcount
        if not mine:
            log.warning("transcription job %s was taken over by another worker; result dropped", job.id)
            return False
        recording = session.get(Recording, job.recording_id)
        save_transcript(session, recording, transcript)
        hint = None
        if job.kind != "full" and transcript.status == "done":
            hint, _ = triage_statement(session, job.call_id, transcript, runtime.settings.language,
                                       recording=recording, runtime=runtime)
    if hint and runtime.settings.keyword_priority_boost:
        with runtime.database.session() as session:
            boost_priority(session, job.call_id)
    return True


def _give_back(runtime, job: ClaimedJob, worker: str, reason: str) -> None:
    """A job that broke: back in the queue after a pause, or failed for good after MAX_ATTEMPTS."""
    now = utcnow()
    with runtime.database.session() as session:
        if job.attempts >= MAX_ATTEMPTS:
            mine = session.execute(
                update(TranscriptionJob).where(TranscriptionJob.id == job.id, TranscriptionJob.worker == worker)
                .values(state="failed", finished_at=now, lease_until=None, error=reason[:300])).rowcount
            if mine:
                session.execute(update(Recording).where(Recording.id == job.recording_id)
                                .values(transcript_status=FAILED, transcript_reason=reason[:300]))
        else:
            session.execute(
                update(TranscriptionJob).where(TranscriptionJob.id == job.id, TranscriptionJob.worker == worker)
                .values(state="pending", lease_until=now + timedelta(seconds=RETRY_SECONDS * job.attempts),
                        error=reason[:300]))


def give_up_exhausted(runtime, *, now: datetime | None = None) -> int:
    """Jobs whose workers died MAX_ATTEMPTS times: failed, with the reason on the recording."""
    now = now or utcnow()
    reason = "transcription was tried too many times without finishing"
    with runtime.database.session() as session:
        ids = list(session.scalars(select(TranscriptionJob.recording_id).where(
            TranscriptionJob.attempts >= MAX_ATTEMPTS, TranscriptionJob.state.in_(("pending", "running")),
            or_(TranscriptionJob.lease_until.is_(None), TranscriptionJob.lease_until <= now))))
        if ids:
            session.execute(update(TranscriptionJob).where(TranscriptionJob.recording_id.in_(ids))
                            .values(state="failed", finished_at=now, lease_until=None, error=reason))
            session.execute(update(Recording).where(Recording.id.in_(ids))
                            .values(transcript_status=FAILED, transcript_reason=reason))
    return len(ids)


def default_transcriber(runtime) -> Transcribe:
    """Transcribe with the runtime's model (loaded once per process); `unavailable` without one."""

    def transcribe(path: str, kind: str) -> Transcript:
        try:
            model = speech_model(runtime)
        except SpeechUnavailable as error:
            return Transcript(UNAVAILABLE, reason=error.reason)
        phrases = load_keywords(runtime.settings.language).phrases() if kind == "statement" else None
        return model.transcribe_file(path, words=True, phrases=phrases)

    return transcribe


def _already_final(runtime, job: ClaimedJob) -> bool:
    """A statement the live transcription finished after all: the job closes without transcribing again."""
    with runtime.database.session() as session:
        status = session.scalar(select(Recording.transcript_status).where(Recording.id == job.recording_id))
        if status in ("pending", "partial"):
            return False
        session.execute(update(TranscriptionJob)
                        .where(TranscriptionJob.id == job.id, TranscriptionJob.worker == job.worker)
                        .values(state="done", finished_at=utcnow(), lease_until=None, error="transcribed live"))
    return True


def process_one(runtime, worker: str, *, transcribe: Transcribe | None = None, now: datetime | None = None) -> bool:
    """Claim and run one job; False when none is due. One job's failure is contained here."""
    job = claim(runtime.database, worker, now=now)
    if job is None:
        return False
    transcribe = transcribe or default_transcriber(runtime)
    try:
        if job.kind == "statement" and _already_final(runtime, job):
            return True
        transcript = _interruptible(runtime, transcribe, job)
        if transcript is None:
            _put_back(runtime, job, worker)
            return True
        _finish(runtime, job, worker, transcript)
    except Exception as error:
        log.exception("transcription job %s (recording %s) failed", job.id, job.recording_id)
        try:
            reason = f"transcription stopped because of an internal error ({type(error).__name__})"
            _give_back(runtime, job, worker, reason)
        except Exception:
            log.exception("transcription job %s could not be given back; its lease will run out", job.id)
    return True


def _interruptible(runtime, transcribe: Transcribe, job: ClaimedJob) -> Transcript | None:
    """Transcribe on a thread of its own; None if the process began stopping first.

    A long recording takes minutes to decode, and `serve` must stop within seconds: the thread
    is a daemon that dies with the process, and the job goes back to the queue for the next start.
    """
    outcome: list = []
    done = threading.Event()

    def run() -> None:
        behind_the_pbx()
        try:
            outcome.append((True, transcribe(job.path, job.kind)))
        except BaseException as error:  # handed to the caller's thread below
            outcome.append((False, error))
        finally:
            done.set()

    threading.Thread(target=run, name=f"transcribe-{job.recording_id}", daemon=True).start()
    while not done.wait(0.2):
        if runtime.stopping.is_set():
            return None
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _put_back(runtime, job: ClaimedJob, worker: str) -> None:
    """An interrupted job: pending again at once, its attempt not counted."""
    with runtime.database.session() as session:
        session.execute(
            update(TranscriptionJob).where(TranscriptionJob.id == job.id, TranscriptionJob.worker == worker)
            .values(state="pending", lease_until=None, attempts=job.attempts - 1, worker=None))
    log.info("transcription of recording %s interrupted by the stop; queued for the next start", job.recording_id)


def process_due(runtime, *, worker: str | None = None, transcribe: Transcribe | None = None,
                now: datetime | None = None, max_jobs: int | None = None) -> int:
    """Run due jobs until none is left (or `max_jobs`); returns how many were taken."""
    worker = worker or worker_name()
    give_up_exhausted(runtime, now=now)
    done = 0
    while max_jobs is None or done < max_jobs:
        if runtime.stopping.is_set():
            break
        if not process_one(runtime, worker, transcribe=transcribe, now=now):
            break
        done += 1
    return done


def run_due(runtime) -> None:
    """The scheduler's job: register calls whose end was missed, make the browser copies a stop or
    a crash left undone, then transcribe what is queued."""
    from recordings.after_call import copy_missing, register_missed

    register_missed(runtime)
    copy_missing(runtime)
    process_due(runtime)
