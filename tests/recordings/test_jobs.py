"""The background transcription queue: survives restarts, never transcribes twice, contains failures."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings import jobs
from recordings.jobs import claim, enqueue, process_due
from recordings.vosk_engine import Transcript, Word
from siaga112.db import Database, utcnow
from siaga112.models import TranscriptionJob
from siaga112.runtime import Runtime
from center.scheduler import scheduler_service
from tests.recordings.factories import add_call, add_recording, recording, wait_until
from tests.recordings.speech_samples import TRAFFIC


class CountingTranscriber:
    """Stands in for Vosk: counts every file it is asked to transcribe; `broken` paths raise."""

    def __init__(self, broken=()):
        self.calls = Counter()
        self.broken = set(broken)
        self.lock = threading.Lock()

    def __call__(self, path, kind):
        with self.lock:
            self.calls[path] += 1
        if path in self.broken:
            raise RuntimeError("decoder crashed")
        return Transcript("done", text=f"teks {Path(path).stem}", words=(Word("teks", 0.1, 0.4, 0.9),), duration_s=1.0)


def queue(database, settings, count=1):
    """`count` full-call recordings, each with a pending job; returns their ids."""
    ids = []
    for _ in range(count):
        call_id = add_call(database)
        path = Path(settings.recordings_dir) / f"call-{call_id}-full.wav"
        ids.append(add_recording(database, call_id, path, state="ok", duration_s=1.0))
    with database.session() as session:
        for recording_id in ids:
            enqueue(session, recording_id)
    return ids


def job_of(database, recording_id) -> TranscriptionJob:
    with database.session() as session:
        return session.scalar(select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id))


def test_queued_recording_gets_its_transcript_with_word_times(database, runtime, settings):
    [recording_id] = queue(database, settings)

    assert process_due(runtime, transcribe=CountingTranscriber()) == 1

    row = recording(database, recording_id)
    assert (row.transcript_status, row.transcript) == ("done", f"teks call-{row.call_id}-full")
    assert row.transcript_words == [{"word": "teks", "start": 0.1, "end": 0.4, "conf": 0.9}]
    job = job_of(database, recording_id)
    assert (job.state, job.attempts, job.lease_until) == ("done", 1, None)


def test_queuing_a_recording_twice_makes_one_job(database, settings):
    [recording_id] = queue(database, settings)
    with database.session() as session:
        enqueue(session, recording_id)
        assert len(list(session.scalars(select(TranscriptionJob)))) == 1


def test_jobs_queued_before_a_restart_are_done_by_the_new_worker(database, settings):
    ids = queue(database, settings, 3)
    database.dispose()  # the process that queued them is gone

    restarted = Runtime(settings=settings, database=Database(database.url))
    transcriber = CountingTranscriber()
    try:
        assert process_due(restarted, worker="after-restart", transcribe=transcriber) == 3
    finally:
        restarted.database.dispose()

    assert all(recording(database, i).transcript_status == "done" for i in ids)
    assert {job_of(database, i).worker for i in ids} == {"after-restart"}


def test_job_of_a_dead_worker_is_taken_again_only_after_its_lease_runs_out(database, runtime, settings):
    [recording_id] = queue(database, settings)
    taken = claim(database, "dead-worker")
    assert taken.recording_id == recording_id

    # While the lease holds, nobody else takes it.
    assert process_due(runtime, worker="other", transcribe=CountingTranscriber()) == 0
    assert job_of(database, recording_id).state == "running"

    later = utcnow() + timedelta(seconds=jobs.LEASE_SECONDS + 2 * 1.0 + 1)
    transcriber = CountingTranscriber()
    assert process_due(runtime, worker="other", transcribe=transcriber, now=later) == 1

    job = job_of(database, recording_id)
    assert (job.state, job.worker, job.attempts) == ("done", "other", 2)
    assert sum(transcriber.calls.values()) == 1
    assert recording(database, recording_id).transcript_status == "done"


def test_two_workers_at_once_transcribe_each_recording_once(database, runtime, settings):
    ids = queue(database, settings, 12)
    transcriber = CountingTranscriber()
    start = threading.Barrier(2)

    def work(name):
        start.wait(timeout=10)
        process_due(runtime, worker=name, transcribe=transcriber)

    workers = [threading.Thread(target=work, args=(name,)) for name in ("worker-a", "worker-b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(transcriber.calls) == 12 and set(transcriber.calls.values()) == {1}
    assert all(job_of(database, i).state == "done" for i in ids)


def test_a_crashing_job_does_not_stop_the_others_and_is_retried_then_given_up(database, runtime, settings):
    ids = queue(database, settings, 3)
    broken = recording(database, ids[1]).path
    transcriber = CountingTranscriber(broken=[broken])

    assert process_due(runtime, transcribe=transcriber) == 3

    assert [recording(database, i).transcript_status for i in ids] == ["done", "pending", "done"]
    job = job_of(database, ids[1])
    assert (job.state, job.attempts) == ("pending", 1)
    assert job.error == "transcription stopped because of an internal error (RuntimeError)"
    assert job.lease_until > utcnow()  # it waits before the next try

    now = utcnow()
    for _attempt in range(jobs.MAX_ATTEMPTS - 1):
        now += timedelta(seconds=jobs.RETRY_SECONDS * jobs.MAX_ATTEMPTS + 1)
        process_due(runtime, transcribe=transcriber, now=now)

    assert transcriber.calls[broken] == jobs.MAX_ATTEMPTS
    assert job_of(database, ids[1]).state == "failed"
    row = recording(database, ids[1])
    assert (row.transcript_status, row.transcript_reason) == ("failed", job.error)


def test_without_a_model_the_transcript_is_unavailable_not_a_crash(database, runtime, settings):
    [recording_id] = queue(database, settings)

    assert process_due(runtime) == 1

    row = recording(database, recording_id)
    assert (row.transcript_status, row.transcript_reason) == ("unavailable", "no speech model is configured")
    assert job_of(database, recording_id).state == "done"


@pytest.mark.speech
def test_full_call_is_transcribed_in_the_background_with_word_times(database, runtime, settings, vosk_model, say):
    runtime.provide("speech_engine", vosk_model)
    call_id = add_call(database)
    path = Path(settings.recordings_dir) / f"call-{call_id}-full.wav"
    path.write_bytes(say(TRAFFIC).read_bytes())
    recording_id = add_recording(database, call_id, path, state="ok")
    with database.session() as session:
        enqueue(session, recording_id)

    jobs.run_due(runtime)

    row = recording(database, recording_id)
    assert row.transcript_status == "done" and row.transcript
    words = row.transcript_words
    assert words and all(0 <= w["start"] < w["end"] <= 3.0 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert " ".join(w["word"] for w in words) == row.transcript


def test_bad_file_in_the_queue_fails_with_a_reason(database, runtime, settings, tmp_path):
    [recording_id] = queue(database, settings)
    Path(recording(database, recording_id).path).write_bytes(b"")
    runtime.provide("speech_engine", object())  # never reached: the file is refused first

    process_due(runtime)

    row = recording(database, recording_id)
    assert (row.transcript_status, row.transcript_reason) == ("failed", "the recording file is empty")


def test_the_scheduler_service_runs_the_queue_on_its_own_thread(database, runtime, settings):
    [recording_id] = queue(database, settings)
    service = scheduler_service(runtime)
    service.start()
    try:
        assert wait_until(lambda: recording(database, recording_id).transcript_status != "pending",
                          timeout=jobs.POLL_SECONDS + 20)
    finally:
        service.stop()

    assert recording(database, recording_id).transcript_status == "unavailable"
