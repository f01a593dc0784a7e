"""Units API: the unit list for the console, GPS and status from the units' phones."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from routing import incidents
from routing import units as service
from routing.service import engine_for
from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.models import Agency, Unit
from siaga112.web import db, json_body, runtime

bp = Blueprint("units_api", __name__, url_prefix="/api/v1")


def _unit(callsign: str) -> Unit:
    try:
        return service.find_unit(db(), callsign.upper())
    except service.UnknownUnit as error:
        raise ApiError(404, "unknown_unit", str(error)) from None


def _after_change(unit: Unit):
    db().commit()
    engine_for(runtime()).take_unit(unit, unit.agency.code)
    return jsonify(service.unit_to_dict(unit, runtime().settings.unit_stale_seconds))


@bp.get("/units")
@require("units:read")
def index():
    query = select(Unit).join(Agency).order_by(Agency.code, Unit.callsign)
    if request.args.get("agency"):
        query = query.where(Agency.code == request.args["agency"])
    if request.args.get("status"):
        if request.args["status"] not in service.UNIT_STATUSES:
            raise ApiError(400, "invalid_status", f"status must be one of {', '.join(service.UNIT_STATUSES)}.")
        query = query.where(Unit.status == request.args["status"])
    stale = runtime().settings.unit_stale_seconds
    return jsonify(units=[service.unit_to_dict(u, stale) for u in db().scalars(query)])


@bp.get("/units/<callsign>")
@require("units:read")
def show(callsign: str):
    return jsonify(service.unit_to_dict(_unit(callsign), runtime().settings.unit_stale_seconds))


@bp.put("/units/<callsign>/position")
@require("units:write")
def position(callsign: str):
    body = json_body()
    unit = _unit(callsign)
    try:
        service.report_position(db(), unit, body.get("lat"), body.get("lon"), body.get("accuracy_m"), body.get("ts"))
    except service.UnitProblem as error:
        raise ApiError(400, "invalid_position", str(error), words=error.notice) from None
    return _after_change(unit)


@bp.put("/units/<callsign>/status")
@require("units:write")
def status(callsign: str):
    body = json_body()
    unit = _unit(callsign)
    was_on = unit.incident_id
    try:
        service.set_status(db(), unit, body.get("status"))
    except service.UnitProblem as error:
        raise ApiError(400, "invalid_status", str(error), words=error.notice) from None
    incidents.unit_reported(db(), unit, unit.status, was_on)  # shown on the incident's timeline
    return _after_change(unit)
