"""Incident pages: the open list, a new incident prefilled from a call or alarm, one incident.

Creating, dispatching and changing status go through the incidents API from the page's
script; these views only render what is stored.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from agent_console import present
from agent_console.pages import page
from siaga112 import events
from siaga112.models import Alarm, Call, Incident
from siaga112.models.incidents import INCIDENT_STATES
from siaga112.web import db, runtime

bp = Blueprint("incidents", __name__)


def _rules():
    from routing.service import engine_for

    return engine_for(runtime()).rules


def categories() -> list[dict]:
    """The categories the routing rules know, with their labels, for the form's choice."""
    return [{"name": name, "label": rule.label} for name, rule in sorted(_rules().categories.items())]


def resolve_category(alias: str | None) -> str | None:
    """A service choice, category hint or alarm kind as a category the rules know (None if not)."""
    if not alias:
        return None
    try:
        return _rules().resolve(present.category_choices(alias))[0].name
    except KeyError:
        return None


def _prefill_from_call(call: Call) -> dict:
    fix = present.best_fix(call)
    statement = present.call_json(db(), call)["statement"] or {}
    return {"category": resolve_category(call.category_hint or call.service_choice),
            "priority": call.priority, "lat": fix.lat if fix else None, "lon": fix.lon if fix else None,
            "description": statement.get("transcript") or "", "call_ids": [call.id], "alarm_ids": []}


def _prefill_from_alarm(alarm: Alarm) -> dict:
    detail = present.alarm_json(db(), alarm)
    where = (detail.get("site") or {}).get("name") or (detail.get("reporter") or {}).get("name") or ""
    description = " — ".join(part for part in (f"{alarm.source.upper()} {alarm.kind}", where, alarm.message or "") if part)
    return {"category": resolve_category(alarm.kind) or resolve_category(alarm.source),
            "priority": alarm.priority, "lat": alarm.lat, "lon": alarm.lon, "description": description,
            "call_ids": [], "alarm_ids": [alarm.id]}


@bp.get("/incidents")
@page("incidents:read")
def index():
    rows = db().scalars(select(Incident).where(Incident.status.in_(present.OPEN_INCIDENT_STATES))
                        .order_by(Incident.priority.desc(), Incident.created_at.desc()).limit(300))
    return render_template("incidents/index.html", after=events.latest_id(db()),
                           incidents=[present.incident_summary(i) for i in rows])


@bp.get("/incidents/new")
@page("incidents:write")
def new():
    source = None
    prefill = {"category": None, "priority": 5, "lat": None, "lon": None, "description": "",
               "call_ids": [], "alarm_ids": []}
    if request.args.get("call", "").isdigit():
        source = db().get(Call, int(request.args["call"]))
        if source is None:
            abort(404)
        prefill = _prefill_from_call(source)
    elif request.args.get("alarm", "").isdigit():
        source = db().get(Alarm, int(request.args["alarm"]))
        if source is None:
            abort(404)
        prefill = _prefill_from_alarm(source)
    return render_template("incidents/new.html", prefill=prefill, categories=categories(),
                           source_kind="call" if isinstance(source, Call) else "alarm" if source else None,
                           source_id=source.id if source else None)


@bp.get("/incidents/<int:incident_id>")
@page("incidents:read")
def show(incident_id: int):
    after = events.latest_id(db())
    incident = db().get(Incident, incident_id)
    if incident is None:
        abort(404)
    calls = db().scalars(select(Call).where(Call.incident_id == incident.id).order_by(Call.started_at))
    alarms = db().scalars(select(Alarm).where(Alarm.incident_id == incident.id).order_by(Alarm.received_at))
    return render_template(
        "incidents/show.html", after=after, incident=incident, summary=present.incident_summary(incident),
        routing=incident.routing or {}, history=incident.history,
        assignments=getattr(incident, "assignments", []), calls=present.calls_json(db(), list(calls)),
        alarms=[present.alarm_json(db(), a) for a in alarms], states=INCIDENT_STATES)
