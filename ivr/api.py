"""The calls API: the live queue, one call, and AML locations from handsets."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from ivr.aml import AmlError, parse_https, parse_sms
from ivr.calls import store_aml
from ivr.serialise import call_to_dict, calls_to_dicts, load_calls_query
from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.models import Call
from siaga112.models.calls import CALL_STATES
from siaga112.web import db, runtime

log = logging.getLogger(__name__)
bp = Blueprint("calls_api", __name__, url_prefix="/api/v1")
LIST_LIMIT = 500


@bp.get("/calls")
@require("calls:read")
def list_calls():
    """Calls in one state (default: the queue), highest priority first, then longest waiting."""
    state = request.args.get("state", "queued")
    if state not in CALL_STATES:
        raise ApiError(400, "invalid_state", f"state must be one of {', '.join(CALL_STATES)}.")
    waited_since = Call.queued_at if state == "queued" else Call.started_at
    query = (load_calls_query().where(Call.state == state)
             .order_by(Call.priority.desc(), waited_since.asc(), Call.id.asc()).limit(LIST_LIMIT))
    calls = list(db().scalars(query))
    return jsonify({"calls": calls_to_dicts(db(), calls)})


@bp.get("/calls/<int:call_id>")
@require("calls:read")
def get_call(call_id: int):
    call = db().scalar(load_calls_query().where(Call.id == call_id))
    if call is None:
        raise ApiError(404, "not_found", "There is no call with this id.")
    return jsonify(call_to_dict(db(), call))


@bp.post("/aml")
@require("aml:write")
def post_aml():
    """An AML message: SMS text form (text/plain; the SMS gateway gives the sender's number in the
    query parameter `from`, since the SMS text does not carry it) or HTTPS form (urlencoded)."""
    body = request.get_data(cache=False, as_text=True)
    region = runtime().settings.phone_region
    try:
        if request.mimetype == "application/x-www-form-urlencoded":
            report = parse_https(body, region=region)
        elif request.mimetype in ("text/plain", ""):
            report = parse_sms(body, request.args.get("from"), region=region)
        else:
            raise ApiError(415, "unsupported_media_type",
                           "Send AML as text/plain (SMS form) or application/x-www-form-urlencoded (HTTPS form).")
    except AmlError as error:
        log.info("AML refused: %s", error)
        raise ApiError(400, "invalid_aml", f"The AML message was refused: {error}.") from None
    matched = store_aml(db(), report)
    db().commit()
    if report.warnings:
        log.info("AML from %s kept with warnings: %s", report.caller, "; ".join(report.warnings))
    return jsonify({"matched_call_id": matched, "warnings": report.warnings}), 202
