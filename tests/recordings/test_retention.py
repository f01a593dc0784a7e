"""Retention: old recordings go, unless on legal hold or needed by an incident not yet over."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings.retention import apply_retention, run_retention
from siaga112.models import AuditEntry
from tests.recordings.factories import add_call, add_recording, recording, write_tone

OLD = timedelta(days=91)


@pytest.fixture
def estate(database, settings):
    """One recording of each kind retention must tell apart: name -> (recording id, path, browser copy)."""
    folder = Path(settings.recordings_dir)
    made = {}
    cases = {
        "old": dict(age=OLD),
        "young": dict(age=timedelta(days=89)),
        "held": dict(age=OLD, legal_hold=True),
        "open-incident": dict(age=OLD, incident_status="dispatched"),
        "closed-incident": dict(age=OLD, incident_status="closed"),
        "false-report": dict(age=OLD, incident_status="false_report"),
    }
    for name, case in cases.items():
        call_id = add_call(database, incident_status=case.get("incident_status"))
        path = write_tone(folder / f"call-{call_id}-full.wav", 0.2)
        copy = settings.data_path / "browser" / f"{name}.ogg"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(b"OggS")
        recording_id = add_recording(database, call_id, path, age=case["age"], state="ok", sha256="ab" * 32,
                                     legal_hold=case.get("legal_hold", False), browser_path=str(copy),
                                     transcript="kebakaran di pasar", transcript_status="done")
        made[name] = (recording_id, path, copy)
    return made


def audit_entries(database):
    with database.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_old_recordings_are_removed_unless_held_or_needed_by_an_incident_not_over(database, runtime, estate):
    report = run_retention(runtime)

    removed = {"old", "closed-incident", "false-report"}
    assert sorted(c.recording_id for c in report.removed) == sorted(estate[n][0] for n in removed)
    open_incident = _incident_of(database, estate)
    assert {c.kept_because for c in report.kept} == {"legal hold", f"incident {open_incident} is dispatched"}
    for name, (recording_id, path, copy) in estate.items():
        row = recording(database, recording_id)
        if name in removed:
            assert (row.state, row.transcript, row.browser_path) == ("removed", None, None)
            assert row.removed_at is not None and row.sha256 == "ab" * 32
            assert not path.exists() and not copy.exists()
        else:
            assert row.state == "ok" and row.transcript and path.exists() and copy.exists()


def _incident_of(database, estate):
    from siaga112.models import Call

    with database.session() as session:
        return session.get(Call, recording(database, estate["open-incident"][0]).call_id).incident_id


def test_every_removal_is_in_the_audit_log(database, runtime, estate):
    run_retention(runtime)

    entries = audit_entries(database)
    removed = sorted(estate[n][0] for n in ("old", "closed-incident", "false-report"))
    assert sorted(int(e.target.split(":")[1]) for e in entries) == removed
    for entry in entries:
        assert (entry.actor, entry.action) == ("retention", "recording.removed")
        assert entry.detail["retention_days"] == 90 and entry.detail["age_days"] >= 91
        assert entry.detail["sha256"] == "ab" * 32 and entry.detail["path"].endswith("-full.wav")


def test_running_again_removes_nothing_more(database, runtime, estate):
    run_retention(runtime)

    assert run_retention(runtime).removed == []
    assert len(audit_entries(database)) == 3


def test_dry_run_lists_what_would_go_and_changes_nothing(database, session, estate):
    report = apply_retention(session, retention_days=90, dry_run=True)
    session.commit()

    assert len(report.removed) == 3 and len(report.kept) == 2
    for recording_id, path, copy in estate.values():
        assert recording(database, recording_id).state == "ok" and path.exists() and copy.exists()
    assert audit_entries(database) == []


def test_retention_command_dry_run_prints_what_would_go(cli_runner, database, estate):
    result = cli_runner.invoke(["recordings", "retention", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert result.output.count("would remove") == 4  # three lines and the total
    assert "(legal hold)" in result.output and "is dispatched)" in result.output
    assert result.output.rstrip().endswith("3 would remove, 2 kept (dry run: nothing was changed)")
    assert all(recording(database, rid).state == "ok" for rid, _, _ in estate.values())
    assert audit_entries(database) == []


def test_retention_command_removes_with_a_shorter_period(cli_runner, database, estate):
    result = cli_runner.invoke(["recordings", "retention", "--days", "30"])

    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("4 removed, 2 kept")
    assert recording(database, estate["young"][0]).state == "removed"
    assert {e.actor for e in audit_entries(database)} == {"cli:retention"}


def test_retention_and_transcription_are_scheduled_jobs():
    from center.scheduler import jobs as _jobs

    jobs = {name: trigger for name, _function, trigger in _jobs()}
    assert jobs["recordings-retention"] == {"hours": 1}
    assert "transcription" in jobs
