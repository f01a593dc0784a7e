"""Registering a call's recordings when it ends: facts of good files, states of bad ones."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings.after_call import AfterCall, after_call, register_missed
from recordings.registry import inspect_file, register_call
from siaga112.models import Recording, TranscriptionJob
from tests.recordings.factories import add_call, add_recording, recording, sha256, wait_until, write_tone
from tests.recordings.speech_samples import AsteriskWav


def test_finished_recording_is_registered_with_size_checksum_duration_and_format(database, tmp_path):
    path = write_tone(tmp_path / "call-1-full.wav", 1.5)
    call_id = add_call(database)
    recording_id = add_recording(database, call_id, path)

    with database.session() as session:
        register_call(session, call_id)

    row = recording(database, recording_id)
    assert (row.state, row.state_reason, row.format) == ("ok", None, "wav")
    assert row.size_bytes == os.path.getsize(path) == 44 + 1.5 * 8000 * 2
    assert row.sha256 == sha256(path)
    assert row.duration_s == 1.5
    assert row.registered_at is not None and row.call_id == call_id


def _unclosed(path):
    writer = AsteriskWav(path)
    writer.write(b"\x10\x27" * 8000)
    writer.abandon()


def _cut_short(path):
    write_tone(path, 1.0)
    with open(path, "r+b") as stream:
        stream.truncate(44 + 8000)


def _header_only(path):
    AsteriskWav(path).close()


def _garbage(path):
    path.write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt \x04\x00\x00\x00" + b"\x00" * 100)


@pytest.mark.parametrize("make, state, reason, duration", [
    (None, "missing", "Asterisk never wrote the recording file", None),
    (lambda p: p.write_bytes(b""), "empty", "the recording file is empty", None),
    (_header_only, "empty", "the recording holds no audio", 0.0),
    (_unclosed, "truncated", "the recording was never closed: its WAV header has no length", 1.0),
    (_cut_short, "truncated", "the recording is 8000 bytes shorter than its header says", 0.5),
    (_garbage, "damaged", "the recording's WAV header is damaged", None),
], ids=["missing", "empty", "header-only", "never-closed", "cut-short", "damaged"])
def test_bad_recording_is_marked_with_its_state_and_reason_not_left_out(
        database, tmp_path, make, state, reason, duration):
    path = tmp_path / "call-1-statement.wav"
    if make is not None:
        make(path)
    call_id = add_call(database)
    recording_id = add_recording(database, call_id, path, kind="statement")

    with database.session() as session:
        register_call(session, call_id)

    row = recording(database, recording_id)
    assert (row.state, row.state_reason, row.duration_s) == (state, reason, duration)
    if state == "truncated":
        assert row.transcript_status == "pending"  # what is there can still be heard and transcribed
    else:
        assert (row.transcript_status, row.transcript_reason) == ("failed", reason)
    if make is not None:
        assert row.sha256 == sha256(path) and row.size_bytes == path.stat().st_size


def test_raw_signed_linear_recording_gets_its_duration_from_its_size(tmp_path):
    path = tmp_path / "call-7-full.sln"
    path.write_bytes(struct.pack("<h", 1000) * 16000)

    facts = inspect_file(path)

    assert (facts.state, facts.format, facts.duration_s) == ("ok", "sln", 2.0)


def test_files_of_a_call_that_hung_up_before_the_ivr_stored_its_rows_are_found(database, settings):
    call_id = add_call(database)
    path = write_tone(Path(settings.recordings_dir) / f"call-{call_id}-full.wav", 0.5)

    with database.session() as session:
        rows = register_call(session, call_id, recordings_dir=settings.recordings_dir)

    assert [(r.kind, r.path, r.state, r.duration_s) for r in rows] == [("full", str(path), "ok", 0.5)]


def test_registering_twice_keeps_one_row_per_file(database, runtime, settings):
    call_id = add_call(database)
    write_tone(Path(settings.recordings_dir) / f"call-{call_id}-full.wav", 0.5)

    after_call(runtime, call_id)
    after_call(runtime, call_id)

    with database.session() as session:
        assert len(list(session.scalars(select(Recording).where(Recording.call_id == call_id)))) == 1
        assert len(list(session.scalars(select(TranscriptionJob)))) == 1


def test_call_end_registers_copies_and_queues_the_full_call_but_not_a_statement_already_transcribed(
        database, runtime, settings, tmp_path):
    folder = Path(settings.recordings_dir)
    call_id = add_call(database)
    full = add_recording(database, call_id, write_tone(folder / f"call-{call_id}-full.wav", 2.0))
    statement = add_recording(database, call_id, write_tone(folder / f"call-{call_id}-statement.wav", 1.0),
                              kind="statement", transcript_status="done", transcript="halo")
    listener = AfterCall(runtime, settle_seconds=0)

    ids = listener(call_id).result(timeout=60)
    listener.stop()

    assert sorted(ids) == sorted([full, statement])
    for recording_id in ids:
        row = recording(database, recording_id)
        assert row.state == "ok"
        assert Path(row.browser_path).is_file() and Path(row.browser_path).parent == settings.data_path / "browser"
    with database.session() as session:
        assert [j.recording_id for j in session.scalars(select(TranscriptionJob))] == [full]


def test_unclosed_file_still_being_finished_is_looked_at_again_before_it_is_called_truncated(
        database, runtime, settings):
    call_id = add_call(database)
    path = Path(settings.recordings_dir) / f"call-{call_id}-full.wav"
    writer = AsteriskWav(path)
    writer.write(b"\x10\x27" * 8000)
    closed = threading.Event()
    worker = threading.Thread(target=after_call, args=(runtime, call_id),
                              kwargs={"settle_seconds": 30, "stop": closed})
    worker.start()
    try:
        # Asterisk closes the file while the registration waits for it to settle.
        assert wait_until(lambda: _state(database, call_id) == "truncated")
    finally:
        writer.close()
        closed.set()
        worker.join(timeout=30)

    assert recording(database, _only_recording_id(database, call_id)).state == "ok"


def _state(database, call_id):
    with database.session() as session:
        return session.scalar(select(Recording.state).where(Recording.call_id == call_id))


def _only_recording_id(database, call_id):
    with database.session() as session:
        return session.scalar(select(Recording.id).where(Recording.call_id == call_id))


def test_calls_whose_end_was_missed_are_registered_by_the_sweep(database, runtime, settings):
    call_id = add_call(database)
    recording_id = add_recording(database, call_id, Path(settings.recordings_dir) / "never-written.wav")

    assert register_missed(runtime) == 1

    assert recording(database, recording_id).state == "missing"
    assert register_missed(runtime) == 0


def test_serve_builds_the_agi_service_with_recordings_plugged_into_its_hooks(runtime):
    from recordings.statement import LiveStatements
    from center.serve import SERVICE_FACTORIES

    service = SERVICE_FACTORIES["agi"](runtime)

    assert isinstance(service.hooks.statement_listener, LiveStatements)
    assert isinstance(service.hooks.call_ended_listener, AfterCall)
