"""The audit log, read-only, filtered by who, what and when: the record of every listen,
monitoring session, grant and administrative change."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.pages import page
from agent_console.supervisor import audit_words
from agent_console.supervisor.common import day_bounds
from siaga112.models import AuditEntry
from siaga112.web import db
from siaga112.web_input import is_record_id

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 200


def entries(session: Session, *, actor: str | None = None, action: str | None = None,
            since=None, until=None, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEntry]:
    """Newest first; `action` matches a prefix (`monitor.` finds listen, whisper and barge)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor.strip())
    if action:
        query = query.where(AuditEntry.action.startswith(action.strip(), autoescape=True))
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def actors(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))


@bp.get("")
@page("audit:read")
def index():
    args = request.args
    since = day_bounds(args.get("from"))
    until = day_bounds(args.get("to"))
    rows = entries(db(), actor=args.get("actor"), action=args.get("action"),
                   since=since[0] if since else None, until=until[1] if until else None,
                   before_id=int(args["before"]) if is_record_id(args.get("before", "")) else None)
    older = (url_for("supervisor.audit.index", **{**args.to_dict(), "before": rows[-1].id})
             if len(rows) == PAGE_SIZE else None)
    return render_template("supervisor/audit.html", rows=rows, args=args, older=older,
                           actions=actions(db()), actors=actors(db()), audit_words=audit_words)
