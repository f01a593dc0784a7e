"""Retention: recordings older than `retention_days` are removed, unless something still needs them.

Kept whatever their age: a recording under legal hold, and a recording of a call linked to an
incident that is not over. An incident is over when `closed` or `false_report` (a false report
is settled: nothing more will be done with it). Removing deletes the original and its browser
copy, clears the transcript (it is the same words), keeps the row as `removed` with its
checksum, and writes one audit entry per recording, in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112 import audit
from siaga112.db import iso, utcnow
from siaga112.models import Call, Incident, Recording

log = logging.getLogger(__name__)

INCIDENT_OVER = ("closed", "false_report")
ACTOR = "retention"


@dataclass(frozen=True)
class Candidate:
    """A recording past its retention date, and whether it goes or why it stays."""

    recording_id: int
    call_id: int
    kind: str
    path: str
    created_at: datetime
    age_days: float
    kept_because: str | None = None  # None: it goes


@dataclass
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    removed: list[Candidate] = field(default_factory=list)
    kept: list[Candidate] = field(default_factory=list)
    failed: list[tuple[Candidate, str]] = field(default_factory=list)


def candidates(session: Session, *, retention_days: int,
               now: datetime | None = None) -> tuple[datetime, list[Candidate]]:
    """Every recording older than the cutoff that is not removed yet, each marked go or keep."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    query = (select(Recording, Call.incident_id, Incident.status)
             .join(Call, Call.id == Recording.call_id)
             .outerjoin(Incident, Incident.id == Call.incident_id)
             .where(Recording.created_at < cutoff, Recording.state != "removed")
             .order_by(Recording.created_at, Recording.id))
    found = []
    for recording, incident_id, incident_status in session.execute(query):
        if recording.legal_hold:
            why = "legal hold"
        elif incident_id is not None and incident_status not in INCIDENT_OVER:
            why = f"incident {incident_id} is {incident_status or 'open'}"
        else:
            why = None
        age = (now - recording.created_at).total_seconds() / 86400
        found.append(Candidate(recording.id, recording.call_id, recording.kind, recording.path,
                               recording.created_at, round(age, 1), why))
    return cutoff, found


def _delete(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def apply_retention(session: Session, *, retention_days: int, now: datetime | None = None,
                    dry_run: bool = False, actor: str = ACTOR) -> RetentionReport:
    """Remove what retention allows (or, with `dry_run`, only say so: nothing changes, nothing is logged)."""
    now = now or utcnow()
    cutoff, found = candidates(session, retention_days=retention_days, now=now)
    report = RetentionReport(cutoff=cutoff, dry_run=dry_run)
    for candidate in found:
        if candidate.kept_because:
            report.kept.append(candidate)
            continue
        if dry_run:
            report.removed.append(candidate)
            continue
        recording = session.get(Recording, candidate.recording_id)
        original, copy = recording.path, recording.browser_path
        # The audit entry and the "removed" mark are committed before any file goes, so a
        # crash between the two can leave a file behind, never a removal nobody wrote down.
        audit.record(session, actor, "recording.removed", f"recording:{recording.id}", detail={
            "call_id": recording.call_id, "kind": recording.kind, "path": original,
            "sha256": recording.sha256, "size_bytes": recording.size_bytes, "created_at": iso(recording.created_at),
            "retention_days": retention_days, "age_days": candidate.age_days})
        previous = (recording.state, recording.state_reason, recording.transcript, recording.transcript_words)
        recording.state = "removed"
        recording.state_reason = f"removed by retention after {retention_days} days"
        recording.removed_at = now
        recording.browser_path = None
        recording.transcript = None
        recording.transcript_words = None
        session.commit()
        try:
            _delete(original)
            _delete(copy)
        except OSError as error:
            log.error("recording %s not removed: %s", recording.id, error)
            recording.state, recording.state_reason, recording.transcript, recording.transcript_words = previous
            recording.removed_at = None
            recording.browser_path = copy
            audit.record(session, actor, "recording.removal_failed", f"recording:{recording.id}",
                         detail={"path": original, "error": error.strerror or "the file could not be deleted"})
            session.commit()
            report.failed.append((candidate, error.strerror or "the file could not be deleted"))
            continue
        report.removed.append(candidate)
    session.flush()
    return report


def run_retention(runtime) -> RetentionReport:
    """The scheduler's job: apply retention with the configured number of days."""
    with runtime.database.session() as session:
        report = apply_retention(session, retention_days=runtime.settings.retention_days)
    if report.removed or report.failed:
        log.info("retention removed %d recordings (%d kept, %d could not be removed)",
                 len(report.removed), len(report.kept), len(report.failed))
    return report
