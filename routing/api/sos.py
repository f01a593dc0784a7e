"""The citizen app's SOS: one POST, one alarm with its routing, or a receipt while the database is away."""

from __future__ import annotations

import hashlib
import secrets

from flask import g, jsonify, request, Blueprint

from siaga112.auth import require
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.idempotency import keys_its_own
from siaga112.journal import JournalError
from siaga112.web import answers_without_database, json_body, runtime
from routing.alarms.journal import SOS, sos_entry, store_or_keep
from routing.alarms.offers import offer_for_unlocated
from routing.alarms.sos import read_sos, store_sos
from routing.alarms.store import alarm_json

bp = Blueprint("sos_api", __name__, url_prefix="/api/v1")


def receipt_for(token_id: int | None, idempotency_key: str | None) -> str:
    """What the app shows when its SOS was kept rather than stored: the same for a resend with the
    same Idempotency-Key (the app shows one number), random without one. Kept on the alarm as
    `flags.receipt`, so the call-taker and the app speak of the same SOS."""
    if not idempotency_key:
        return "SOS-" + secrets.token_hex(6).upper()
    digest = hashlib.sha256(f"{token_id}:{idempotency_key}".encode("utf-8", "surrogatepass")).hexdigest()
    return "SOS-" + digest[:12].upper()


@bp.post("/sos")
@keys_its_own
@answers_without_database
@require("alarms:write")
def sos():
    """201 with the alarm; a resend with the same Idempotency-Key gets 200 and the first alarm.

    When the database refuses or does not answer within `alarm_db_timeout_seconds`, the SOS is
    kept in the alarm journal (fsynced) and answered 202 with a receipt: it is stored, routed
    and shown on the consoles as soon as the database is back.
    """
    body = json_body()
    key = (request.headers.get("Idempotency-Key") or "").strip()[:100] or None
    token_id = g.principal.token_id
    rt = runtime()
    receipt = receipt_for(token_id, key)
    report = read_sos(rt, body, idempotency_key=key, token_id=token_id, receipt=receipt)

    def store(session):
        alarm, created = store_sos(session, rt, report)
        return alarm_json(session, alarm), created, alarm

    try:
        stored, result = store_or_keep(rt, SOS, store, lambda: sos_entry(report),
                                       database_away_now=g.get("database_away", False))
    except JournalError:
        raise ApiError(503, "not_stored", "The SOS could not be stored just now; send it again.") from None
    if not stored:
        return jsonify({
            "receipt": receipt, "state": "received", "received_at": iso(utcnow()),
            "message": "Your SOS is received and will reach the call-takers; show this receipt if asked.",
        }), 202
    answer, created, alarm = result
    if created and alarm.lat is None:
        offer_for_unlocated(rt, alarm)  # a link to the reporter's phone, sent in the background
    return jsonify(answer), 201 if created else 200
