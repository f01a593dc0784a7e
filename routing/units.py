"""Field units: registering them, their GPS and status reports, and noticing when they go silent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.geo import validate_point
from routing.rules import Rules
from siaga112 import events
from siaga112.db import iso, utcnow
from siaga112.i18n import message, vocab
from siaga112.models import Agency, Unit
from siaga112.models.incidents import IncidentUnit
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)

UNIT_STATUSES = ("available", "dispatched", "on_scene", "off_duty")
FUTURE_TOLERANCE = timedelta(minutes=2)  # phone clocks drift; a fix further ahead is not believed


class UnitProblem(ValueError):
    """A unit request that cannot be done; the message says why in a sentence (and `notice`, in words
    for either language, where a page shows it)."""

    def __init__(self, text: str, key: str | None = None, /, **params) -> None:
        super().__init__(text)
        self.notice = message(key, **params) if key else None

    @classmethod
    def of(cls, error: ValueError) -> "UnitProblem":
        """The same refusal, with its words when it had them (a position's)."""
        problem = cls(str(error))
        problem.notice = getattr(error, "notice", None)
        return problem


class UnknownUnit(LookupError):
    def __init__(self, callsign: str) -> None:
        self.callsign = callsign
        super().__init__(f"There is no unit with call sign {callsign!r}.")


def ensure_agencies(session: Session, rules: Rules) -> dict[str, Agency]:
    """Make the agencies of the rules exist, with the rules' names and SMS numbers."""
    existing = {a.code: a for a in session.scalars(select(Agency))}
    for code, rule in rules.agencies.items():
        agency = existing.get(code)
        if agency is None:
            agency = existing[code] = Agency(code=code, name=rule.name, sms_number=rule.sms_number)
            session.add(agency)
        else:
            agency.name, agency.sms_number = rule.name, rule.sms_number
    session.flush()
    return existing


def find_unit(session: Session, callsign: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.callsign == callsign))
    if unit is None:
        raise UnknownUnit(callsign)
    return unit


def add_unit(session: Session, rules: Rules, callsign: str, agency: str, kind: str | None = None, *,
             phone: str | None = None, lat=None, lon=None) -> Unit:
    """Register a unit of an agency named in the rules; a given position is where it is stationed."""
    callsign = callsign.strip().upper()
    if not callsign:
        raise UnitProblem("A unit needs a call sign.", "unit.no_callsign")
    if agency not in rules.agencies:
        raise UnitProblem(f"Agency {agency!r} is not in the routing rules; known agencies: {', '.join(sorted(rules.agencies))}.",
                          "unit.unknown_agency", agency=str(agency))
    kinds = rules.agencies[agency].unit_kinds
    kind = kind or (kinds[0] if kinds else "patrol")
    if kinds and kind not in kinds:
        raise UnitProblem(f"A {agency} unit is one of {', '.join(kinds)}, not {kind!r}.", "unit.bad_kind",
                          agency=vocab("agency", agency), kinds={"or": [vocab("unit_kind", k) for k in kinds]},
                          kind=str(kind))
    if session.scalar(select(Unit.id).where(Unit.callsign == callsign)) is not None:
        raise UnitProblem(f"Unit {callsign} exists already.", "unit.exists", unit=callsign)
    agencies = ensure_agencies(session, rules)
    unit = Unit(callsign=callsign, agency_id=agencies[agency].id, kind=kind, phone=phone or None,
                status="available", status_at=utcnow())
    if lat is not None or lon is not None:
        try:
            unit.lat, unit.lon = validate_point(lat, lon)
        except ValueError as error:
            raise UnitProblem.of(error) from None
        unit.position_source, unit.position_at = "post", utcnow()
    session.add(unit)
    session.flush()
    return unit


def _parse_ts(ts) -> datetime | None:
    if ts is None:
        return None
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts, timezone.utc)
    if isinstance(ts, str):
        try:
            value = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise UnitProblem("ts must be an ISO 8601 time such as 2026-01-01T08:00:00Z.") from None
        if value.tzinfo is None:
            raise UnitProblem("ts must say its time zone, e.g. end with Z for UTC.")
        return value.astimezone(timezone.utc)
    raise UnitProblem("ts must be an ISO 8601 time or seconds since 1970.")


def report_position(session: Session, unit: Unit, lat, lon, accuracy_m=None, ts=None) -> bool:
    """Take a GPS fix; returns False (and keeps the newer one) when it is older than the last fix."""
    try:
        lat, lon = validate_point(lat, lon)
    except ValueError as error:
        raise UnitProblem.of(error) from None
    if accuracy_m is not None:
        try:
            accuracy_m = float(accuracy_m)
        except (TypeError, ValueError):
            raise UnitProblem("accuracy_m must be a number of metres.") from None
        if not 0 <= accuracy_m < 1e6:
            raise UnitProblem("accuracy_m must be a number of metres, 0 or more.")
    now = utcnow()
    at = _parse_ts(ts) or now
    if at > now + FUTURE_TOLERANCE:
        raise UnitProblem("ts is in the future; check the unit's clock.")
    if unit.position_source == "gps" and unit.position_at is not None and at < unit.position_at:
        return False  # fixes can arrive out of order over mobile data; the newest one stands
    unit.lat, unit.lon, unit.accuracy_m, unit.position_at = lat, lon, accuracy_m, at
    unit.position_source, unit.position_stale = "gps", False
    unit.updated_at = now
    events.publish(session, "unit.updated", unit_to_dict(unit))
    return True


def set_status(session: Session, unit: Unit, status: str) -> None:
    """Change a unit's status; a unit made available or off duty is released from its incident."""
    if status not in UNIT_STATUSES:
        raise UnitProblem(f"Status must be one of {', '.join(UNIT_STATUSES)}, not {status!r}.")
    unit.status, unit.status_at = status, utcnow()
    unit.updated_at = unit.status_at
    if status in ("available", "off_duty") and unit.incident_id is not None:
        for assignment in session.scalars(select(IncidentUnit).where(
                IncidentUnit.unit_id == unit.id, IncidentUnit.incident_id == unit.incident_id,
                IncidentUnit.released_at.is_(None))):
            assignment.released_at = unit.status_at
        unit.incident_id = None
    events.publish(session, "unit.updated", unit_to_dict(unit))


def position_known(unit: Unit, stale_seconds: float, now: datetime | None = None) -> bool:
    if unit.lat is None or unit.lon is None:
        return False
    if unit.position_source == "post":
        return True
    now = now or utcnow()
    return unit.position_at is not None and (now - unit.position_at).total_seconds() <= stale_seconds


def unit_to_dict(unit: Unit, stale_seconds: float | None = None) -> dict:
    """The API's view of a unit; position is null when unknown (never reported, or gone silent)."""
    known = (not unit.position_stale) if stale_seconds is None else position_known(unit, stale_seconds)
    return {
        "callsign": unit.callsign,
        "agency": unit.agency.code if unit.agency else None,
        "kind": unit.kind,
        "status": unit.status,
        "status_at": iso(unit.status_at),
        "phone": unit.phone,
        "incident_id": unit.incident_id,
        "position_known": bool(known and unit.lat is not None),
        "position": {
            "lat": unit.lat, "lon": unit.lon, "accuracy_m": unit.accuracy_m,
            "at": iso(unit.position_at), "source": unit.position_source,
        } if known and unit.lat is not None else None,
        "last_position_at": iso(unit.position_at),
    }


def mark_stale_units(runtime: Runtime) -> int:
    """Scheduled: units whose GPS went silent past unit_stale_seconds are announced as position unknown."""
    cutoff = utcnow() - timedelta(seconds=runtime.settings.unit_stale_seconds)
    with runtime.database.session() as session:
        silent = list(session.scalars(select(Unit).where(
            Unit.position_source == "gps", Unit.position_stale.is_(False), Unit.position_at < cutoff)))
        for unit in silent:
            unit.position_stale = True
            unit.updated_at = utcnow()
            events.publish(session, "unit.updated", unit_to_dict(unit))
        if silent:
            log.info("%d unit(s) silent past %ss: position unknown", len(silent), runtime.settings.unit_stale_seconds)
    return len(silent)
