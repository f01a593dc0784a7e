"""Console events: appended to the outbox in the same transaction as the change they announce.

Every process writes here and every console reads from here, so a change made by the IVR,
an alarm receiver or another web process reaches all consoles. On PostgreSQL a NOTIFY wakes
the readers at once; on SQLite readers look at the table a few times a second.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from siaga112.models import Event

EVENT_KINDS = (
    "call.queued", "call.updated", "call.answered", "call.ended",
    "alarm.new", "alarm.updated", "incident.created", "incident.updated", "unit.updated",
)
NOTIFY_CHANNEL = "siaga112_events"


def publish(session: Session, kind: str, payload: dict, *, audience: str | None = None) -> Event:
    """Queue an event for every console (or only `audience`, a username)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    event = Event(kind=kind, payload=payload, audience=audience)
    session.add(event)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": NOTIFY_CHANNEL, "id": str(event.id)})
    return event
