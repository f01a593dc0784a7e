"""Whether recordings can be kept: free space and writes of the recordings folder, for /healthz and the floor.

A full recordings disk does not stop calls (Asterisk queues them and the IVR goes on), so a
centre could stop recording without noticing. This check tells: the folder's free space
(a warning below `disk_warning_free_percent`), whether a small file can be written and synced
there now, and how many recordings of the last hour came out missing, empty or cut short.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from siaga112.db import utcnow
from siaga112.storage import disk_health, write_probe
from siaga112.models import Recording

RECENT = timedelta(hours=1)
FAILED_STATES = ("missing", "empty", "truncated", "damaged")


def recordings_storage_health(runtime) -> dict:
    """`ok`, `warning` (little space left, or recent recordings failed) or `failing` (cannot write)."""
    settings = runtime.settings
    body = disk_health(settings.recordings_dir, settings.disk_warning_free_percent)
    failure = write_probe(settings.recordings_dir)
    body["writable"] = failure is None
    if failure:
        body["write_error"] = failure
    try:
        with runtime.database.session() as session:
            body["failed_last_hour"] = session.scalar(
                select(func.count()).select_from(Recording).where(
                    Recording.state.in_(FAILED_STATES), Recording.created_at >= utcnow() - RECENT))
    except Exception:  # the database's own health is reported beside this
        body["failed_last_hour"] = None
    disk = body.pop("status")
    if failure or disk in ("full", "unreadable"):
        body.update(status="failing", alert="critical")
    elif disk == "low" or body["failed_last_hour"]:
        body.update(status="warning", alert="warning")
    else:
        body["status"] = "ok"
    body["disk"] = disk
    return body
