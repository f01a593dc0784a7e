"""The console's own JSON: queue items, the call view, and the call-taker's actions on a call.

Each action is audited and announced as an event, so every other console shows it at once.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from agent_console import ami, callback, present
from routing.geo import validate_point
from siaga112 import audit, events
from siaga112.auth import require
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.i18n import message
from siaga112.models import Alarm, Call, Incident, Jurisdiction, LocationFix, Unit
from siaga112.web import db, json_body, runtime
from siaga112.web_input import stored_id

bp = Blueprint("console_api", __name__, url_prefix="/api/v1/console")


def _call(call_id: int) -> Call:
    call = db().get(Call, call_id)
    if call is None:
        raise ApiError(404, "not_found", "There is no such call.", words=message("call.not_found"))
    return call


def _announce(call: Call) -> None:
    events.publish(db(), "call.updated", present.call_json(db(), call))


def _audit(action: str, target: str, **detail) -> None:
    audit.record(db(), g.principal.name, action, target, detail=detail or None, actor_id=g.principal.user_id,
                 ip=request.remote_addr)


@bp.get("/queue")
@require("calls:read")
def queue():
    return jsonify(calls=present.queue(db()), alarms=present.open_alarms(db()))


@bp.get("/calls/<int:call_id>")
@require("calls:read")
def call(call_id: int):
    return jsonify(present.call_detail(db(), _call(call_id)))


@bp.get("/alarms/<int:alarm_id>")
@require("alarms:read")
def alarm(alarm_id: int):
    row = db().get(Alarm, alarm_id)
    if row is None:
        raise ApiError(404, "not_found", "There is no such alarm.", words=message("error.no_alarm"))
    return jsonify(present.alarm_json(db(), row))


@bp.post("/calls/<int:call_id>/fixes")
@require("calls:write")
def add_manual_fix(call_id: int):
    """A position the caller described, entered by the call-taker: kept beside the others."""
    call = _call(call_id)
    body = json_body()
    try:
        lat, lon = validate_point(body.get("lat"), body.get("lon"))
    except ValueError as error:
        raise ApiError(400, "invalid_location", str(error), words=getattr(error, "notice", None)) from None
    accuracy = body.get("accuracy_m")
    if accuracy is not None and (not isinstance(accuracy, (int, float)) or accuracy < 0):
        raise ApiError(400, "invalid_accuracy", "The accuracy must be a positive number of metres.",
                       words=message("error.invalid_accuracy"))
    note = str(body.get("note") or "")[:300] or None
    fix = LocationFix(call_id=call.id, source="manual", lat=lat, lon=lon, accuracy_m=accuracy,
                      observed_at=utcnow(), detail={"note": note, "entered_by": g.principal.name})
    db().add(fix)
    db().flush()
    _audit("call.fix_added", f"call:{call.id}", fix_id=fix.id)
    db().refresh(call)
    _announce(call)
    db().commit()
    return jsonify(present.call_detail(db(), call)), 201


@bp.post("/calls/<int:call_id>/landmark")
@require("calls:write")
def set_landmark(call_id: int):
    """Where the caller says they are, in their words, with or without coordinates."""
    call = _call(call_id)
    landmark = json_body().get("landmark")
    if not isinstance(landmark, str) or not landmark.strip():
        raise ApiError(400, "landmark_required", "Write what the caller said about where they are.")
    call.landmark = landmark.strip()[:300]
    _audit("call.landmark", f"call:{call.id}", landmark=call.landmark)
    _announce(call)
    db().commit()
    return jsonify(present.call_detail(db(), call))


@bp.post("/calls/<int:call_id>/confirm-fix")
@require("calls:write")
def confirm_fix(call_id: int):
    """The call-taker confirms one fix; later fixes are then offered, never swapped in."""
    call = _call(call_id)
    fix_id = stored_id(json_body().get("fix_id"))
    fix = db().get(LocationFix, fix_id) if fix_id is not None else None
    if fix is None or fix.call_id != call.id:
        raise ApiError(400, "invalid_fix", "That location fix does not belong to this call.",
                       words=message("error.invalid_fix"))
    call.confirmed_fix_id = fix.id
    _audit("call.fix_confirmed", f"call:{call.id}", fix_id=fix.id, source=fix.source)
    _announce(call)
    db().commit()
    return jsonify(present.call_detail(db(), call))


@bp.post("/calls/<int:call_id>/incident")
@require("calls:write")
def join_incident(call_id: int):
    """Link the call to an existing incident (a second caller about the same fire)."""
    call = _call(call_id)
    incident_id = stored_id(json_body().get("incident_id"))
    incident = db().get(Incident, incident_id) if incident_id is not None else None
    if incident is None:
        raise ApiError(400, "invalid_incident", "There is no such incident.", words=message("incident.not_found"))
    if incident.status not in present.OPEN_INCIDENT_STATES:
        raise ApiError(409, "incident_closed", "That incident is closed; create a new one instead.",
                       words=message("error.join_closed"))
    previous = call.incident_id
    call.incident_id = incident.id
    _audit("call.incident_linked", f"call:{call.id}", incident_id=incident.id, previous=previous)
    _announce(call)
    events.publish(db(), "incident.updated", {**present.incident_summary(incident), "linked_call_id": call.id})
    db().commit()
    return jsonify(present.call_detail(db(), call))


@bp.post("/calls/<int:call_id>/callback")
@require("calls:write")
def call_back(call_id: int):
    """Ring the call-taker's phone, then the caller (the AMI module audits each attempt)."""
    call = _call(call_id)
    if not call.caller:
        raise ApiError(409, "no_number", "The caller's number was withheld; there is no number to call.",
                       words=message("sv.ami.number_withheld"))
    if g.get("user") is None:
        raise ApiError(403, "forbidden", "Only a signed-in call-taker with a phone can call back.",
                       words=message("error.callback_forbidden"))
    action_id = callback.call_back(runtime(), g.user, call)
    return jsonify(action_id=action_id), 202


AGENT_CHOICES = ("available", "break")  # what a person sets; on_call and wrap_up follow the phone


@bp.get("/me")
@require("calls:read")
def me():
    """Who this console is signed in as, and their state on the floor (the page checks it is still signed in)."""
    user = g.get("user")
    if user is None:
        return jsonify(name=g.principal.name, role=None, status=None)
    return jsonify(name=user.username, role=user.role, status=user.status, status_at=iso(user.status_at))


@bp.post("/me/status")
@require("calls:read")
def set_my_status():
    """Ready or on break, pressed by the call-taker; not while their phone has a caller on it."""
    user = g.get("user")
    if user is None:
        raise ApiError(403, "forbidden", "Only a signed-in person has a state on the floor.")
    status = json_body().get("status")
    if status not in AGENT_CHOICES:
        raise ApiError(400, "invalid_status", f"status must be one of {', '.join(AGENT_CHOICES)}.")
    live = db().scalar(select(Call.id).where(Call.agent_id == user.id, Call.state == "answered").limit(1))
    if live is not None:
        raise ApiError(409, "on_call", "You are still on a call; your state changes when it ends.", call_id=live)
    if user.status != status:
        user.status, user.status_at = status, utcnow()
        _audit("agent.status", f"user:{user.id}", status=status)
        events.publish(db(), "agent.status", {"username": user.username, "status": status,
                                              "status_at": iso(user.status_at)})
        db().commit()
    # After the commit: the phone follows the state the person chose, and a telephone system
    # that is away changes nothing of that choice (queue_paused says whether Asterisk took it).
    queue_paused = ami.pause_member(runtime(), user, paused=status == "break")
    return jsonify(name=user.username, role=user.role, status=user.status, status_at=iso(user.status_at),
                   queue_paused=queue_paused)


@bp.get("/jurisdictions.geojson")
@require("incidents:read")
def jurisdictions():
    """Boundaries as one GeoJSON FeatureCollection for the map (kecamatan, or kelurahan on request)."""
    level = request.args.get("level", "kecamatan")
    rows = db().scalars(select(Jurisdiction).where(Jurisdiction.level == level).order_by(Jurisdiction.name))
    features = [{"type": "Feature", "geometry": j.geometry,
                 "properties": {"code": j.code, "name": j.name, "level": j.level,
                                "police_sector": j.police_sector}} for j in rows]
    response = jsonify(type="FeatureCollection", features=features)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/map")
@require("incidents:read")
def map_layers():
    """Units with a position and open incidents, for the situation map."""
    units = db().scalars(select(Unit).where(Unit.lat.is_not(None)).order_by(Unit.callsign))
    incidents = db().scalars(select(Incident).where(Incident.status.in_(present.OPEN_INCIDENT_STATES))
                             .order_by(Incident.priority.desc(), Incident.created_at.desc()).limit(500))
    return jsonify(
        units=[{"callsign": u.callsign, "agency": u.agency.code if u.agency else None, "kind": u.kind,
                "status": u.status, "lat": u.lat, "lon": u.lon, "incident_id": u.incident_id} for u in units],
        incidents=[present.incident_summary(i) for i in incidents],
    )
