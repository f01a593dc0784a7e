"""Reporters API: a blocked reporter's appeal (public), and the supervisor's decisions."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.web import db, machine_endpoint, runtime
from routing import reporters

bp = Blueprint("reporters_api", __name__, url_prefix="/api/v1")


def _phone(raw: str) -> str:
    try:
        return reporters.normalize_phone(raw, runtime().settings.phone_region)
    except ValueError as error:
        raise ApiError(400, "invalid_phone", str(error)) from None


def _refused(error: reporters.ReporterError) -> ApiError:
    return ApiError(error.status, error.code, error.message)


@bp.post("/reporters/<phone>/appeal")
@machine_endpoint
def appeal(phone: str):
    """Public: a blocked reporter asks to be unblocked. One pending appeal at a time (429 else)."""
    data = request.get_json(silent=True)
    text = None
    if isinstance(data, dict):
        text = data.get("text") or data.get("message")
    elif request.form:
        text = request.form.get("text")
    if text is not None and not isinstance(text, str):
        raise ApiError(400, "invalid_text", "The appeal text must be text.")
    session = db()
    try:
        reporter = reporters.appeal(session, _phone(phone), text)
    except reporters.ReporterError as error:
        raise _refused(error) from None
    session.commit()
    return jsonify(reporters.public_view(reporter)), 202


def _reporter(phone: str):
    """The reporter with this number, or a 404 that says so."""
    reporter = reporters.find(db(), _phone(phone))
    if reporter is None:
        raise ApiError(404, "unknown_reporter", "There is no reporter with this number.")
    return reporter


@bp.get("/reporters/<phone>/appeal")
def appeal_status(phone: str):
    """Public: where a reporter's appeal stands (nothing else about them)."""
    return jsonify(reporters.public_view(_reporter(phone)))


@bp.get("/reporters")
@require("reporters:manage")
def list_reporters():
    """?blocked=1 for blocked reporters, ?appeal=pending for appeals waiting for a decision."""
    blocked_arg = request.args.get("blocked")
    blocked = None if blocked_arg in (None, "") else blocked_arg.lower() in ("1", "true", "yes")
    rows = reporters.list_reporters(db(), blocked=blocked, appeal_state=request.args.get("appeal") or None)
    return jsonify({"reporters": [reporters.to_json(r) for r in rows]})


@bp.get("/reporters/<phone>")
@require("reporters:manage")
def get_reporter(phone: str):
    return jsonify(reporters.to_json(_reporter(phone)))


@bp.post("/reporters/<phone>/appeal/<decision>")
@require("reporters:manage")
def decide(phone: str, decision: str):
    """grant (unblock, strikes to zero) or refuse; {note?}; audited."""
    if decision not in ("grant", "refuse"):
        raise ApiError(404, "not_found", "The decision is grant or refuse.")
    data = request.get_json(silent=True) or {}
    note = data.get("note") if isinstance(data, dict) else None
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "invalid_note", "note must be text.")
    session = db()
    principal = g.principal
    try:
        reporter = reporters.decide_appeal(session, _phone(phone), grant=decision == "grant", actor=principal.name,
                                           actor_id=principal.user_id, note=note, ip=request.remote_addr)
    except reporters.ReporterError as error:
        raise _refused(error) from None
    session.commit()
    return jsonify(reporters.to_json(reporter))
