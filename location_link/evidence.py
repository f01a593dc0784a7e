"""Photos and recorded video as evidence: written once with their SHA-256, kept like recordings.

Files live under `evidence_dir`, one folder per link. A photo keeps two files: the bytes as they
arrived (with whatever metadata they carried; shown to nobody) and the re-encoded copy people
see. A video grows chunk by chunk while the call-taker watches, and is checksummed when it ends.
Retention follows the recordings' rule (`retention_days`; never while under legal hold or while
the call's or alarm's incident is open), and every removal, hold and view is in the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112 import audit
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, Call, Incident, LinkMedia, LocationLink

log = logging.getLogger(__name__)

INCIDENT_OVER = ("closed", "false_report")  # as for recordings: nothing more will be done with it
ACTOR = "retention"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder(settings, link: LocationLink) -> Path:
    path = Path(settings.evidence_dir) / link.created_at.strftime("%Y/%m") / f"link-{link.id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (evidence is never overwritten)."""
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/webm": "webm", "video/mp4": "mp4"}


def store_photo(session: Session, settings, link: LocationLink, original: bytes, photo, *,
                gps_used: bool) -> LinkMedia:
    """Keep one checked photo: the original and its bare copy, both checksummed (flushes)."""
    media = LinkMedia(link_id=link.id, call_id=link.call_id, alarm_id=link.alarm_id, kind="photo", state="ok",
                      path="", content_type=photo.content_type, width=photo.width, height=photo.height,
                      legal_hold=False, created_at=utcnow(), finished_at=utcnow(),
                      detail={"exif_position": bool(photo.gps), "exif_position_used": gps_used})
    session.add(media)
    session.flush()
    base = folder(settings, link)
    original_path = base / f"{media.id}-original.{EXTENSIONS[photo.content_type]}"
    view_path = base / f"{media.id}-view.jpg"
    _write_new(original_path, original)
    _write_new(view_path, photo.view_jpeg)
    media.path, media.view_path = str(original_path), str(view_path)
    media.sha256 = hashlib.sha256(original).hexdigest()
    media.view_sha256 = hashlib.sha256(photo.view_jpeg).hexdigest()
    media.size_bytes = len(original)
    audit.record(session, f"link:{link.id}", "evidence.received", f"media:{media.id}", detail={
        "kind": "photo", "call_id": link.call_id, "alarm_id": link.alarm_id, "sha256": media.sha256,
        "view_sha256": media.view_sha256, "size_bytes": media.size_bytes})
    return media


def start_video(session: Session, settings, link: LocationLink, content_type: str, *, actor: str,
                actor_id: int | None) -> LinkMedia:
    media = LinkMedia(link_id=link.id, call_id=link.call_id, alarm_id=link.alarm_id, kind="video",
                      state="receiving", path="", content_type=content_type, size_bytes=0, legal_hold=False,
                      created_at=utcnow(), detail={"recorded_by": actor})
    session.add(media)
    session.flush()
    path = folder(settings, link) / f"{media.id}-video.{EXTENSIONS[content_type]}"
    _write_new(path, b"")
    media.path = str(path)
    audit.record(session, actor, "evidence.video_started", f"media:{media.id}", actor_id=actor_id,
                 detail={"call_id": link.call_id, "alarm_id": link.alarm_id, "link_id": link.id})
    return media


def append_video(media: LinkMedia, data: bytes, max_bytes: int) -> bool:
    """Add a chunk to a video being recorded; False once the size limit is reached (the chunk is dropped)."""
    if (media.size_bytes or 0) + len(data) > max_bytes:
        return False
    with open(media.path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    media.size_bytes = (media.size_bytes or 0) + len(data)
    return True


def finish_video(session: Session, media: LinkMedia, *, duration_s: float | None, actor: str,
                 actor_id: int | None) -> None:
    media.state = "ok"
    media.finished_at = utcnow()
    media.duration_s = duration_s
    media.sha256 = sha256_of(Path(media.path))
    media.size_bytes = Path(media.path).stat().st_size
    audit.record(session, actor, "evidence.video_finished", f"media:{media.id}", actor_id=actor_id, detail={
        "call_id": media.call_id, "alarm_id": media.alarm_id, "sha256": media.sha256,
        "size_bytes": media.size_bytes, "duration_s": duration_s})


STALE_VIDEO = timedelta(minutes=5)


def finish_abandoned_videos(session: Session, *, now: datetime | None = None) -> list[int]:
    """Close videos whose console went away mid-recording: what arrived is kept and checksummed."""
    now = now or utcnow()
    done = []
    for media in session.scalars(select(LinkMedia).where(LinkMedia.kind == "video", LinkMedia.state == "receiving")):
        path = Path(media.path)
        last = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo) if path.is_file() else media.created_at
        if now - max(last, media.created_at) < STALE_VIDEO:
            continue
        if not path.is_file():
            path.touch()
        finish_video(session, media, duration_s=None, actor="evidence", actor_id=None)
        media.detail = {**(media.detail or {}), "ended": "the console stopped sending; kept what arrived"}
        done.append(media.id)
    return done


def media_json(media: LinkMedia) -> dict:
    viewable = media.state != "removed" and (media.kind == "photo" or media.state == "ok")
    return {
        "id": media.id, "kind": media.kind, "state": media.state, "link_id": media.link_id,
        "call_id": media.call_id, "alarm_id": media.alarm_id, "content_type": media.content_type,
        "width": media.width, "height": media.height, "duration_s": media.duration_s,
        "size_bytes": media.size_bytes, "sha256": media.sha256, "view_sha256": media.view_sha256,
        "legal_hold": media.legal_hold, "created_at": iso(media.created_at), "finished_at": iso(media.finished_at),
        "removed_at": iso(media.removed_at),
        "url": f"/api/v1/evidence/{media.id}/file" if viewable else None,
        "exif_position_used": bool((media.detail or {}).get("exif_position_used")),
    }


# --- retention ---------------------------------------------------------------------------

@dataclass
class MediaRetention:
    cutoff: datetime
    dry_run: bool = False
    removed: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)


def kept_because(session: Session, media: LinkMedia) -> str | None:
    """Why an expired piece of evidence must stay: legal hold, or an incident that is not over."""
    if media.legal_hold:
        return "legal hold"
    if media.state == "receiving":
        return "still being recorded"
    incident_id = None
    if media.call_id is not None:
        incident_id = session.scalar(select(Call.incident_id).where(Call.id == media.call_id))
    elif media.alarm_id is not None:
        incident_id = session.scalar(select(Alarm.incident_id).where(Alarm.id == media.alarm_id))
    if incident_id is not None:
        status = session.scalar(select(Incident.status).where(Incident.id == incident_id))
        if status not in INCIDENT_OVER:
            return f"incident {incident_id} is {status or 'open'}"
    return None


def apply_retention(session: Session, *, retention_days: int, now: datetime | None = None,
                    dry_run: bool = False, actor: str = ACTOR) -> MediaRetention:
    """Remove evidence older than retention that nothing needs; audited, committed before files go."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    report = MediaRetention(cutoff, dry_run)
    rows = list(session.scalars(select(LinkMedia).where(LinkMedia.created_at < cutoff, LinkMedia.state != "removed")
                                .order_by(LinkMedia.id)))
    for media in rows:
        why = kept_because(session, media)
        if why:
            report.kept[media.id] = why
            continue
        report.removed.append(media.id)
        if dry_run:
            continue
        paths = [p for p in (media.path, media.view_path) if p]
        audit.record(session, actor, "evidence.removed", f"media:{media.id}", detail={
            "kind": media.kind, "call_id": media.call_id, "alarm_id": media.alarm_id, "sha256": media.sha256,
            "size_bytes": media.size_bytes, "created_at": iso(media.created_at), "retention_days": retention_days})
        media.state, media.removed_at, media.view_path = "removed", now, None
        session.commit()
        for path in paths:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError as error:
                log.error("evidence %s: %s not removed: %s", media.id, path, error)
    return report


def run_retention(runtime) -> MediaRetention:
    """The scheduler's job, with the recordings' `retention_days`; abandoned videos are closed first."""
    with runtime.database.session() as session:
        finish_abandoned_videos(session)
        session.commit()
        report = apply_retention(session, retention_days=runtime.settings.retention_days)
    if report.removed:
        log.info("retention removed %d photos and videos (%d kept)", len(report.removed), len(report.kept))
    return report
