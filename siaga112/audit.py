"""The audit log: every listen, removal, monitoring session and grant, with who and when."""

from __future__ import annotations

from sqlalchemy.orm import Session

from siaga112.models import AuditEntry


def record(session: Session, actor: str, action: str, target: str | None = None, *,
           detail: dict | None = None, actor_id: int | None = None, ip: str | None = None) -> AuditEntry:
    """Append one entry; it is committed with the work it describes."""
    entry = AuditEntry(actor=actor, actor_id=actor_id, action=action, target=target, detail=detail, ip=ip)
    session.add(entry)
    return entry
