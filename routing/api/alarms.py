"""Alarms API: the console's alarm list, one alarm, acknowledge/close, and texting back."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.models import Alarm
from siaga112.models.alarms import ALARM_SOURCES, ALARM_STATES
from siaga112.web import db, json_body, runtime
from siaga112.web_input import stored_id
from routing.alarms import sms
from routing.alarms.store import alarm_json, change_state

bp = Blueprint("alarms_api", __name__, url_prefix="/api/v1")

MAX_LIST = 500


def _choices(name: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ApiError(400, f"invalid_{name}", f"{name} must be among {', '.join(allowed)}.")
    return values


def _own_only() -> int | None:
    """The token whose own alarms are all the caller may read (the citizen app's), or None: all of them."""
    principal = g.principal
    if principal.can("alarms:read") or principal.can("alarms:handle"):
        return None
    return principal.token_id if principal.token_id is not None else -1


def _alarm(alarm_id: int) -> Alarm:
    alarm = db().get(Alarm, alarm_id)
    own = _own_only()
    if alarm is None or (own is not None and alarm.posted_by_token_id != own):
        raise ApiError(404, "not_found", "There is no such alarm.")  # another's alarm is not even named
    return alarm


@bp.get("/alarms")
@require("alarms:read", "alarms:write")
def list_alarms():
    """Most urgent first, then newest: what a call-taker must look at next is on top.

    The citizen app's token (alarms:write without alarms:read) sees only the alarms it posted.
    """
    query = select(Alarm).order_by(Alarm.priority.desc(), Alarm.received_at.desc(), Alarm.id.desc())
    own = _own_only()
    if own is not None:
        query = query.where(Alarm.posted_by_token_id == own)
    states = _choices("state", ALARM_STATES)
    if states:
        query = query.where(Alarm.state.in_(states))
    sources = _choices("source", ALARM_SOURCES)
    if sources:
        query = query.where(Alarm.source.in_(sources))
    try:
        limit = min(MAX_LIST, max(1, int(request.args.get("limit", 100))))
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be a whole number.") from None
    session = db()
    return jsonify({"alarms": [alarm_json(session, a) for a in session.scalars(query.limit(limit))]})


@bp.get("/alarms/<int:alarm_id>")
@require("alarms:read", "alarms:write")
def get_alarm(alarm_id: int):
    session = db()
    alarm = _alarm(alarm_id)
    return jsonify({**alarm_json(session, alarm), "messages": sms.conversation(session, alarm)})


@bp.patch("/alarms/<int:alarm_id>")
@require("alarms:handle")
def update_alarm(alarm_id: int):
    """{state: acknowledged|closed, note?, incident_id?}"""
    data = json_body()
    session = db()
    alarm = _alarm(alarm_id)
    state = data.get("state", alarm.state)
    if state not in ALARM_STATES:
        raise ApiError(400, "invalid_state", "state is acknowledged or closed.")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "invalid_note", "note must be text.")
    if "incident_id" in data:
        incident_id = data["incident_id"]
        if incident_id is not None:
            from siaga112.models import Incident

            if stored_id(incident_id) is None or session.get(Incident, incident_id) is None:
                raise ApiError(400, "invalid_incident", "incident_id must name an existing incident.")
        alarm.incident_id = incident_id
    try:
        change_state(session, alarm, state, actor=g.principal.name, note=note)
    except ValueError as error:
        raise ApiError(409, "invalid_transition", str(error)) from None
    session.commit()
    return jsonify(alarm_json(session, alarm))


@bp.post("/alarms/<int:alarm_id>/reply")
@require("alarms:handle")
def reply(alarm_id: int):
    """Text the person behind an alarm (a question, an instruction): {message}."""
    data = json_body()
    session = db()
    alarm = _alarm(alarm_id)
    if not isinstance(data.get("message"), str):
        raise ApiError(400, "invalid_message", "message must be text.")
    message = sms.send_reply(session, runtime(), alarm, data["message"], actor=g.principal.name)
    if message.status != "sent":
        raise ApiError(502, "sms_failed", "The text could not be sent; it is kept as failed. Try again or call.",
                       sms=sms.message_json(message))
    return jsonify({"message": sms.message_json(message)}), 201
