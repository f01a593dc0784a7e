"""The citizen app's SOS: one POST, one alarm with its routing."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from siaga112.auth import require
from siaga112.idempotency import keys_its_own
from siaga112.web import db, json_body, runtime
from routing.alarms.offers import offer_for_unlocated
from routing.alarms.sos import take_sos
from routing.alarms.store import alarm_json

bp = Blueprint("sos_api", __name__, url_prefix="/api/v1")


@bp.post("/sos")
@keys_its_own
@require("alarms:write")
def sos():
    """201 with the alarm; a resend with the same Idempotency-Key gets 200 and the first alarm."""
    body = json_body()
    key = (request.headers.get("Idempotency-Key") or "").strip()[:100] or None
    session = db()
    alarm, created = take_sos(session, runtime(), body, idempotency_key=key, token_id=g.principal.token_id)
    if created and alarm.lat is None:
        offer_for_unlocated(runtime(), alarm)  # a link to the reporter's phone, sent in the background
    return jsonify(alarm_json(session, alarm)), 201 if created else 200
