"""Incident pages: the open list, a new incident prefilled from a call or alarm, one incident.

Creating, dispatching and changing status go through the incidents API from the page's
script; these views only render what is stored.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template, request
from sqlalchemy import String, cast, or_, select

from agent_console import i18n, present
from agent_console.pages import page
from routing import notify
from routing.explain import explain
from routing.geo import haversine_m
from siaga112.models import Alarm, Call, Incident, Unit
from siaga112.models.incidents import INCIDENT_STATES, IncidentUnit, Notification
from siaga112.web import db, runtime
from siaga112.web_input import is_record_id

log = logging.getLogger(__name__)

bp = Blueprint("incidents", __name__)


def _rules():
    from routing.service import engine_for

    return engine_for(runtime()).rules


def categories() -> list[dict]:
    """The categories the routing rules know, in the viewer's words, for the form's choice (sorted as read)."""
    named = [{"name": name, "label": i18n.word("category", name, fallback=rule.label)}
             for name, rule in _rules().categories.items()]
    return sorted(named, key=lambda c: c["label"].casefold())


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
            "address": call.landmark or "", "description": statement.get("transcript") or "",
            "call_ids": [call.id], "alarm_ids": [], "existing_incident_id": call.incident_id}


def _prefill_from_alarm(alarm: Alarm) -> dict:
    detail = present.alarm_json(db(), alarm)
    where = (detail.get("site") or {}).get("name") or (detail.get("reporter") or {}).get("name") or ""
    what = f"{i18n.word('alarm_source', alarm.source)}: {i18n.word('alarm_kind', alarm.kind)}"
    description = " — ".join(part for part in (what, where, alarm.message or "") if part)
    return {"category": resolve_category(alarm.kind) or resolve_category(alarm.source),
            "priority": alarm.priority, "lat": alarm.lat, "lon": alarm.lon, "description": description,
            "address": "", "call_ids": [], "alarm_ids": [alarm.id], "existing_incident_id": alarm.incident_id}


SHOWN_STATES = {"open": present.OPEN_INCIDENT_STATES, "closed": ("resolved", "closed", "false_report"),
                "all": INCIDENT_STATES}
SEARCH_LIMIT = 300


def search_incidents(words: str, shown: str) -> list[Incident]:
    """Incidents in the chosen states whose number, description, address, place or category
    holds every word typed; open ones most urgent first, others newest first."""
    query = select(Incident).where(Incident.status.in_(SHOWN_STATES[shown]))
    for word in words.split()[:8]:
        if word.lstrip("#").isdigit():
            query = query.where(Incident.id == int(word.lstrip("#")))
            continue
        pattern = f"%{word.lower()}%"
        query = query.where(or_(*[cast(column, String).ilike(pattern) for column in (
            Incident.description, Incident.address, Incident.kelurahan, Incident.kecamatan,
            Incident.category, Incident.police_sector)]))
    if shown == "open":
        query = query.order_by(Incident.priority.desc(), Incident.created_at.desc())
    else:
        query = query.order_by(Incident.created_at.desc())
    return list(db().scalars(query.limit(SEARCH_LIMIT)))


@bp.get("/incidents")
@page("incidents:read")
def index():
    shown = request.args.get("show", "open")
    if shown not in SHOWN_STATES:
        shown = "open"
    words = request.args.get("q", "").strip()[:200]
    rows = search_incidents(words, shown)
    return render_template("incidents/index.html", words=words, shown=shown,
                           incidents=[present.incident_summary(i) for i in rows])


@bp.get("/incidents/new")
@page("incidents:write")
def new():
    source = None
    prefill = {"category": None, "priority": 5, "lat": None, "lon": None, "description": "", "address": "",
               "call_ids": [], "alarm_ids": [], "existing_incident_id": None}
    if request.args.get("call"):
        source = db().get(Call, int(request.args["call"])) if is_record_id(request.args["call"]) else None
        if source is None:
            abort(404)
        prefill = _prefill_from_call(source)
    elif request.args.get("alarm"):
        source = db().get(Alarm, int(request.args["alarm"])) if is_record_id(request.args["alarm"]) else None
        if source is None:
            abort(404)
        prefill = _prefill_from_alarm(source)
    return render_template("incidents/new.html", prefill=prefill, categories=categories(),
                           source_kind="call" if isinstance(source, Call) else "alarm" if source else None,
                           source_id=source.id if source else None)


def live_decision(incident: Incident) -> dict:
    """The incident routed again now: units free *now*, nearest first (a unit sent elsewhere since
    the incident was made is no longer offered). The stored routing is the fallback."""
    from routing.service import engine_for

    routing = dict(incident.routing or {})
    if incident.status not in present.OPEN_INCIDENT_STATES:
        return routing
    try:
        engine = engine_for(runtime())
        engine.sync(db())
        fresh = engine.decide(incident.category, incident.lat, incident.lon, incident.priority)
    except Exception:  # noqa: BLE001 - broken rules: the routing stored at creation still shows
        log.exception("incident %s: live routing failed; showing the stored routing", incident.id)
        return routing
    routing["recommended_units"] = fresh["recommended_units"]
    routing["cameras"] = fresh["cameras"]
    return routing


BUSY_UNITS_SHOWN = 5


def busy_units(incident: Incident, routing: dict) -> list[dict]:
    """The nearest units of the routed agencies that are on another incident: what a dispatcher may
    take off a lesser job (reassign), nearest first."""
    if incident.lat is None or incident.status not in present.OPEN_INCIDENT_STATES:
        return []
    agencies = [a["code"] if isinstance(a, dict) else a for a in routing.get("agencies", [])]
    rows = db().scalars(select(Unit).where(Unit.incident_id.is_not(None), Unit.incident_id != incident.id,
                                           Unit.lat.is_not(None), Unit.status != "off_duty"))
    found = []
    for unit in rows:
        code = unit.agency.code if unit.agency else None
        if agencies and code not in agencies:
            continue
        distance = haversine_m(incident.lat, incident.lon, unit.lat, unit.lon)
        found.append({"callsign": unit.callsign, "agency": code, "kind": unit.kind, "status": unit.status,
                      "incident_id": unit.incident_id, "distance_m": distance})
    found.sort(key=lambda u: u["distance_m"])
    return found[:BUSY_UNITS_SHOWN]


def assignments(incident: Incident) -> list[dict]:
    """Units sent to the incident, with each one's own last report (on scene, available)."""
    rows = db().execute(select(IncidentUnit, Unit.status, Unit.status_at).join(Unit, Unit.id == IncidentUnit.unit_id)
                        .where(IncidentUnit.incident_id == incident.id).order_by(IncidentUnit.id)).all()
    return [{"callsign": a.callsign, "agency_code": a.agency_code, "dispatched_at": a.dispatched_at,
             "released_at": a.released_at, "unit_status": status if a.released_at is None else None,
             "unit_status_at": status_at} for a, status, status_at in rows]


@bp.get("/incidents/<int:incident_id>")
@page("incidents:read")
def show(incident_id: int):
    incident = db().get(Incident, incident_id)
    if incident is None:
        abort(404)
    calls = db().scalars(select(Call).where(Call.incident_id == incident.id).order_by(Call.started_at))
    alarms = db().scalars(select(Alarm).where(Alarm.incident_id == incident.id).order_by(Alarm.received_at))
    routing = live_decision(incident)
    sent = assignments(incident)
    notifications = list(db().scalars(select(Notification).where(Notification.incident_id == incident.id)
                                      .order_by(Notification.id)))
    return render_template(
        "incidents/show.html", incident=incident, summary=present.incident_summary(incident),
        routing=routing, timeline=present.timeline(incident),
        warnings=present.routing_warnings(incident.routing), explanation=explain(incident.routing),
        assignments=sent, busy_units=busy_units(incident, routing), notifications=notifications,
        failed_sms=[n for n in notifications if n.state == "failed"], sms_failure=notify.failure_kind,
        calls=present.calls_json(db(), list(calls)),
        alarms=[present.alarm_json(db(), a) for a in alarms], states=INCIDENT_STATES)
