"""Non-emergency reports in Open311 GeoReport v2: a fallen tree, a power cut, a damaged road.

Each service code is a routing category, so a report reaches the agency the rules name for it
(DLH and BPBD for a fallen tree, PLN for a power cut, public works for a road), and the
reporter follows its status through the same API. Reports are where strikes bite: a reporter
blocked after false reports is refused here with a sentence that says how to appeal, while
their SOS and texts to 112 are still taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.models import Reporter, ServiceRequest
from siaga112.runtime import Runtime
from siaga112.web_input import is_record_id
from routing import reporters

MAX_DESCRIPTION_CHARS = 4000
MAX_LIST = 200


@dataclass(frozen=True)
class Service:
    """One Open311 service: its code is also the routing category."""

    code: str
    name: str
    description: str
    group: str
    keywords: str


SERVICES: dict[str, Service] = {s.code: s for s in (
    Service("fallen_tree", "Pohon tumbang (fallen tree)",
            "A tree or a large branch has fallen on a road, a power line or a building.", "environment",
            "pohon, tumbang, tree, branch"),
    Service("power_outage", "Listrik padam (power outage)",
            "No electricity in a street or a neighbourhood, or a fallen or sparking line.", "utilities",
            "listrik, padam, PLN, power, outage"),
    Service("road_damage", "Jalan rusak (road damage)",
            "A pothole, a collapsed road edge, a broken bridge deck or a missing drain cover.", "infrastructure",
            "jalan, rusak, lubang, road, pothole"),
    Service("public_order", "Ketertiban umum (public order)",
            "Illegal street trading, a blocked pavement, a noisy gathering, abandoned goods.", "public order",
            "ketertiban, satpol pp, public order"),
    Service("flood", "Banjir / genangan (flood)",
            "Water on a road or in houses after rain, a blocked drain or an overflowing river.", "disaster",
            "banjir, genangan, flood"),
)}


def service_list() -> list[dict]:
    return [{"service_code": s.code, "service_name": s.name, "description": s.description, "metadata": False,
             "type": "realtime", "keywords": s.keywords, "group": s.group} for s in SERVICES.values()]


def _field(form, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value[:limit] or None


def create_request(session: Session, runtime: Runtime, form) -> ServiceRequest:
    """Take one report (form fields as GeoReport v2 names them); the caller commits.

    A report with only address_string is placed and routed from the address, as an incident
    is, and its lat/long are that estimate; the routing says how rough it is.
    """
    from routing.geo import validate_point
    from routing.geocode import geocode, note_on_decision
    from routing.service import route

    code = _field(form, "service_code", 40)
    service = SERVICES.get(code or "")
    if service is None:
        raise ApiError(400, "invalid_service_code",
                       f"service_code must be one of {', '.join(SERVICES)} (see services.json).")
    address = _field(form, "address_string", 300)
    lat = lon = None
    if form.get("lat") not in (None, "") or form.get("long") not in (None, ""):
        try:
            lat, lon = validate_point(form.get("lat"), form.get("long"))
        except ValueError as error:
            raise ApiError(400, "invalid_location", str(error)) from None
    elif not address:
        raise ApiError(400, "missing_location", "Give the place: lat and long, or address_string.")
    reporter = None
    phone_raw = _field(form, "phone", 40)
    if phone_raw:
        try:
            phone = reporters.normalize_phone(phone_raw, runtime.settings.phone_region)
        except ValueError as error:
            raise ApiError(400, "invalid_phone", str(error)) from None
        reporter = reporters.find(session, phone)
        if reporter is not None and reporter.blocked:
            raise ApiError(403, "reporter_blocked", reporters.blocked_message(reporter),
                           appeal=reporters.appeal_path(reporter.phone))
        reporter = reporters.get_or_create(session, phone, name=_name(form))
    contact = {k: _field(form, k, 200) for k in ("first_name", "last_name", "email", "device_id", "account_id")}
    geocoded = geocode(runtime, session, address) if lat is None else None
    if geocoded is not None and geocoded.found:
        lat, lon = geocoded.lat, geocoded.lon
    decision = route(runtime, session, service.code, lat, lon)
    decision["location_source"] = "given" if geocoded is None else None
    if geocoded is not None:
        note_on_decision(decision, geocoded, address)
    agencies = [a.get("name") or a.get("code") for a in decision.get("agencies", [])]
    request = ServiceRequest(
        service_code=service.code, description=_field(form, "description", MAX_DESCRIPTION_CHARS),
        status="open", agency_responsible=", ".join(a for a in agencies if a) or None, lat=lat, lon=lon,
        address=address, media_url=_field(form, "media_url", 500), reporter_id=reporter.id if reporter else None,
        contact={k: v for k, v in contact.items() if v} or None, routing=decision,
    )
    session.add(request)
    session.flush()
    return request


def _name(form) -> str | None:
    name = " ".join(p for p in (_field(form, "first_name", 100), _field(form, "last_name", 100)) if p)
    return name or None


def find_requests(session: Session, args) -> list[ServiceRequest]:
    """GET requests.json: by ids, service codes, status, and date range; newest first."""
    query = select(ServiceRequest).order_by(ServiceRequest.id.desc()).limit(MAX_LIST)
    ids = _list(args.get("service_request_id"))
    if ids:
        numbers = [int(i) for i in ids if is_record_id(i)]
        query = query.where(ServiceRequest.id.in_(numbers))
    codes = _list(args.get("service_code"))
    if codes:
        query = query.where(ServiceRequest.service_code.in_(codes))
    states = _list(args.get("status"))
    if states:
        unknown = [s for s in states if s not in ("open", "closed")]
        if unknown:
            raise ApiError(400, "invalid_status", "status is open, closed, or both separated by a comma.")
        query = query.where(ServiceRequest.status.in_(states))
    for name, op in (("start_date", "__ge__"), ("end_date", "__le__")):
        if args.get(name):
            moment = _datetime(args.get(name), name)
            query = query.where(getattr(ServiceRequest.requested_at, op)(moment))
    return list(session.scalars(query))


def _list(value) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _datetime(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"invalid_{name}", f"{name} must be an ISO 8601 date and time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def close_request(session: Session, request: ServiceRequest, *, outcome: str, notes: str | None,
                  strike_limit: int) -> ServiceRequest:
    """Close a report with its outcome; the reporter gets a point (confirmed) or a strike (false_report)."""
    if outcome not in ("confirmed", "false_report", "unfounded"):
        raise ApiError(400, "invalid_outcome", "outcome is confirmed, false_report or unfounded.")
    request.status = "closed"
    request.closed_at = request.closed_at or utcnow()
    if notes:
        request.status_notes = notes.strip()[:2000]
    if request.outcome is None and request.reporter_id is not None and outcome != "unfounded":
        reporter = session.get(Reporter, request.reporter_id)
        reporters.record_outcome(session, reporter, false_report=outcome == "false_report", strike_limit=strike_limit)
    request.outcome = request.outcome or outcome
    return request


def request_json(request: ServiceRequest) -> dict:
    """A service request as GeoReport v2 shows it: public, so no reporter contact."""
    service = SERVICES.get(request.service_code)
    return {
        "service_request_id": str(request.id),
        "status": request.status,
        "status_notes": request.status_notes,
        "service_name": service.name if service else request.service_code,
        "service_code": request.service_code,
        "description": request.description,
        "agency_responsible": request.agency_responsible,
        "service_notice": None,
        "requested_datetime": iso(request.requested_at),
        "updated_datetime": iso(request.updated_at),
        "expected_datetime": None,
        "address": request.address,
        "address_id": None,
        "zipcode": None,
        "lat": request.lat,
        "long": request.lon,
        "media_url": request.media_url,
    }
