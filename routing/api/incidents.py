"""Incidents API: create (routed), read, list near a point, change status, dispatch units."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from routing import incidents as service
from routing import notify
from routing.api.common import actor, near_arg
from routing.engine import UnknownCategory
from routing.service import engine_for
from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.i18n import message
from siaga112.models import Incident
from siaga112.models.incidents import INCIDENT_STATES
from siaga112.web import db, json_body, runtime

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")


def _problem(error: service.IncidentProblem) -> ApiError:
    # What the refusal names (a unit, the incident it is on) goes with it, for a client to act on.
    named = {key: value for key, value in error.details.items() if key not in ("status", "code", "message", "words")}
    return ApiError(error.status, error.code, error.message, words=error.words, **named)


def _incident(incident_id: int) -> Incident:
    incident = db().get(Incident, incident_id)
    if incident is None:
        raise ApiError(404, "not_found", f"There is no incident {incident_id}.",
                       words=message("error.no_incident", id=incident_id))
    return incident


def runtime_categories() -> list[str]:
    from routing.rules import RulesError
    from routing.service import valid_categories

    try:
        return valid_categories(runtime())
    except RulesError:  # logged where the incident is created; the caller still gets a 400
        return []


@bp.post("/incidents")
@require("incidents:write")
def create():
    body = json_body()
    if not isinstance(body.get("category"), str) or not body["category"].strip():
        raise ApiError(400, "missing_category", "Say what happened: category is required.",
                       valid_categories=runtime_categories())
    try:
        incident = service.create_incident(
            runtime(), db(), category=body["category"], description=body.get("description"),
            location=body.get("location"), priority=body.get("priority"), call_ids=body.get("call_ids"),
            alarm_ids=body.get("alarm_ids"), actor=actor())
    except UnknownCategory as error:
        raise ApiError(400, "unknown_category", str(error), valid_categories=error.valid) from None
    except service.IncidentProblem as error:
        raise _problem(error) from None
    except ValueError as error:  # a priority out of range: the sentence is ours
        raise ApiError(400, "invalid_priority", str(error)) from None
    db().commit()
    return jsonify(service.incident_to_dict(db(), incident)), 201


@bp.get("/incidents")
@require("incidents:read")
def index():
    statuses = []
    for status in filter(None, request.args.get("status", "").split(",")):
        statuses.extend(service.OPEN_STATES if status == "open" else [status])
    unknown = [s for s in statuses if s not in INCIDENT_STATES]
    if unknown:
        raise ApiError(400, "invalid_status", f"status must be open or among {', '.join(INCIDENT_STATES)}.")
    near, radius = near_arg()
    try:
        limit = min(500, max(1, int(request.args.get("limit", "100"))))
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be a whole number.") from None
    found = service.find_incidents(db(), statuses=statuses or None, near=near, radius_m=radius, limit=limit)
    items = []
    for incident, distance in found:
        item = service.incident_summary(incident)
        if distance is not None:
            item["distance_m"] = round(distance, 1)
        items.append(item)
    return jsonify(incidents=items)


@bp.get("/incidents/<int:incident_id>")
@require("incidents:read")
def show(incident_id: int):
    return jsonify(service.incident_to_dict(db(), _incident(incident_id)))


@bp.patch("/incidents/<int:incident_id>")
@require("incidents:write")
def update(incident_id: int):
    """Change the status (with a note), and/or correct location, category or priority (routed again)."""
    body = json_body()
    incident = _incident(incident_id)
    corrections = {key: body[key] for key in ("location", "category", "priority") if key in body}
    if "status" not in body and not corrections:
        raise ApiError(400, "nothing_to_change",
                       f"Give a new status (one of {', '.join(INCIDENT_STATES)}) or a location, category or priority.")
    try:
        if corrections:
            service.reroute(runtime(), db(), incident, note=body.get("note") if "status" not in body else None,
                            actor=actor(), **corrections)
        if "status" in body:
            service.change_status(runtime(), db(), incident, body["status"], body.get("note"), actor())
    except UnknownCategory as error:
        raise ApiError(400, "unknown_category", str(error), valid_categories=error.valid) from None
    except service.IncidentProblem as error:
        raise _problem(error) from None
    except ValueError as error:
        raise ApiError(400, "invalid_priority", str(error)) from None
    db().commit()
    engine_for(runtime()).sync(db(), force=True)  # units released by a close are free at once
    return jsonify(service.incident_to_dict(db(), incident))


@bp.post("/incidents/<int:incident_id>/notes")
@require("incidents:write")
def add_note(incident_id: int):
    """A note on the incident's timeline, status unchanged: {note}."""
    body = json_body()
    incident = _incident(incident_id)
    try:
        service.add_note(db(), incident, body.get("note"), actor())
    except service.IncidentProblem as error:
        raise _problem(error) from None
    db().commit()
    return jsonify(service.incident_to_dict(db(), incident)), 201


@bp.post("/incidents/<int:incident_id>/notifications/<int:notification_id>/retry")
@require("incidents:write")
def retry_notification(incident_id: int, notification_id: int):
    """Send a failed SMS to an agency or unit again, now."""
    from siaga112.models import Notification

    incident = _incident(incident_id)
    notification = db().get(Notification, notification_id)
    if notification is None or notification.incident_id != incident.id:
        raise ApiError(404, "not_found", "That SMS does not belong to this incident.")
    try:
        notify.retry_now(runtime(), db(), notification)
    except ValueError as error:
        messages = {"already_sent": "That SMS was sent already.",
                    "incident_closed": "The incident is closed; its SMS are not sent again."}
        raise ApiError(409, str(error), messages[str(error)]) from None
    db().expire_all()
    return jsonify(notify.notification_to_dict(db().get(Notification, notification_id)))


@bp.post("/incidents/<int:incident_id>/dispatch")
def dispatch(incident_id: int):
    # Dispatchers hold `dispatch`; machine clients (a CAD bridge) may dispatch with incidents:write.
    principal = g.get("principal")
    if principal is None:
        raise ApiError(401, "unauthenticated", "Sign in, or send a bearer token.")
    if not (principal.can("dispatch") or (principal.kind == "token" and principal.can("incidents:write"))):
        raise ApiError(403, "forbidden", "Your role or token does not allow dispatching units.")
    body = json_body()
    incident = _incident(incident_id)
    try:
        queued = service.dispatch(runtime(), db(), incident, body.get("units"), actor(),
                                  reassign=body.get("reassign") is True)
    except service.IncidentProblem as error:
        raise _problem(error) from None
    db().commit()
    engine_for(runtime()).sync(db(), force=True)  # the sent units are no longer recommended
    notify.deliver(runtime(), queued)
    db().expire_all()
    return jsonify(service.incident_to_dict(db(), _incident(incident_id)))


dispatch.required_scope = "dispatch"
