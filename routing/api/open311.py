"""Open311 GeoReport v2 for non-emergency reports, and the console's way to close them."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.models import Incident, ServiceRequest
from siaga112.web import db, json_body, machine_endpoint, runtime
from siaga112.web_input import is_record_id, stored_id
from routing import open311

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
reports_bp = Blueprint("reports_api", __name__, url_prefix="/api/v1")


@bp.errorhandler(ApiError)
def open311_error(error: ApiError):
    """GeoReport v2 clients read errors as [{code, description}]."""
    return jsonify([{"code": error.status, "description": error.message, **error.extra}]), error.status


@bp.get("/services.json")
def services():
    return jsonify(open311.service_list())


@bp.get("/requests.json")
def list_requests():
    return jsonify([open311.request_json(r) for r in open311.find_requests(db(), request.args)])


@bp.post("/requests.json")
@machine_endpoint
def create_request():
    """Form-encoded per the spec (a JSON object is taken too); answers [{service_request_id, ...}]."""
    form = request.form if request.form else (request.get_json(silent=True) or {})
    if not hasattr(form, "get"):
        raise ApiError(400, "invalid_body", "Send the report as form fields, as GeoReport v2 describes.")
    session = db()
    report = open311.create_request(session, runtime(), form)
    session.commit()
    return jsonify([{"service_request_id": str(report.id), "service_notice": None, "account_id": None,
                     "agency_responsible": report.agency_responsible}]), 201


@bp.get("/requests/<request_id>.json")
def get_request(request_id: str):
    report = db().get(ServiceRequest, int(request_id)) if is_record_id(request_id) else None
    if report is None:
        raise ApiError(404, "not_found", "There is no service request with this id.")
    return jsonify([open311.request_json(report)])


@reports_bp.patch("/reports/<int:request_id>")
@require("incidents:write")
def close_report(request_id: int):
    """{status: closed, outcome: confirmed|false_report|unfounded, status_notes?, incident_id?}"""
    data = json_body()
    session = db()
    report = session.get(ServiceRequest, request_id)
    if report is None:
        raise ApiError(404, "not_found", "There is no such report.")
    if "incident_id" in data:
        if data["incident_id"] is not None and (stored_id(data["incident_id"]) is None
                                                or session.get(Incident, data["incident_id"]) is None):
            raise ApiError(400, "invalid_incident", "incident_id must name an existing incident.")
        report.incident_id = data["incident_id"]
    notes = data.get("status_notes")
    if notes is not None and not isinstance(notes, str):
        raise ApiError(400, "invalid_status_notes", "status_notes must be text.")
    if data.get("status") == "closed":
        open311.close_request(session, report, outcome=data.get("outcome", "confirmed"), notes=notes,
                              strike_limit=runtime().settings.strike_limit)
    elif data.get("status") not in (None, "open"):
        raise ApiError(400, "invalid_status", "status is open or closed.")
    elif notes:
        report.status_notes = notes.strip()[:2000]
    session.commit()
    return jsonify(open311.request_json(report))
