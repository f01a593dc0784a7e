"""Incidents: created from calls, alarms or the console, routed, dispatched, followed to the end.

Plain functions over an explicit session; the web views only translate HTTP to these calls.
A bad location never stops an incident from being created: the routing says what is wrong.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing import notify
from routing.geocode import Geocoded, geocode, note_on_decision
from routing.geo import EARTH_RADIUS_M, haversine_m, validate_point
from routing.rules import RulesError
from routing.service import engine_for
from routing.units import find_unit, unit_to_dict
from siaga112 import audit, events, i18n
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, Call, Incident, IncidentEvent, LocationFix, Unit
from siaga112.models.incidents import INCIDENT_STATES, IncidentUnit, Notification
from siaga112.runtime import Runtime
from siaga112.storable import clean
from siaga112.web_input import ID_MAX

log = logging.getLogger(__name__)

OPEN_STATES = ("new", "dispatched", "on_scene")
# Which status may follow which. closed and false_report end an incident; reopening one (back
# to new) is allowed with a note, because a closed fire can flare up again.
TRANSITIONS = {
    "new": {"dispatched", "on_scene", "resolved", "closed", "false_report"},
    "dispatched": {"on_scene", "resolved", "closed", "false_report"},
    "on_scene": {"resolved", "closed", "false_report"},
    "resolved": {"closed", "false_report", "on_scene"},
    "closed": {"new"},
    "false_report": {"new"},
}
NOTE_REQUIRED = {"false_report", "new"}
RELEASES_UNITS = {"resolved", "closed", "false_report"}
MAX_DESCRIPTION = 4000


class IncidentProblem(ValueError):
    """A request about an incident that cannot be done; status and code say how to answer it."""

    def __init__(self, status: int, code: str, message: str, /, *, words: dict | None = None, **params) -> None:
        self.status, self.code, self.message = status, code, message
        self.details = params  # what the sentence names (a unit, an incident), for the client to act on
        self.words = words or i18n.message(f"error.{code}", **params)  # the sentence in any language
        super().__init__(message)


@dataclass
class Where:
    lat: float | None
    lon: float | None
    source: str | None
    problem: str | None = None
    geocoded: Geocoded | None = None  # when the position is (or could not be) estimated from the address
    notice: dict | str | None = None  # the problem as a message (siaga112.i18n), for each reader's language


def _locate(runtime: Runtime, session: Session, location, address: str | None, calls: list[Call],
            alarms: list[Alarm]) -> Where:
    """The position to route on: the one given, else a linked alarm's, a linked call's fix, the address's place."""
    if isinstance(location, dict) and ("lat" in location or "lon" in location):
        refuse_malformed_point(location.get("lat"), location.get("lon"))
        try:
            lat, lon = validate_point(location.get("lat"), location.get("lon"))
            return Where(lat, lon, "given")
        except ValueError as error:
            return Where(None, None, None, f"The location given was not used: {error}",
                         notice=getattr(error, "notice", str(error)))
    for alarm in alarms:
        if alarm.lat is not None and alarm.lon is not None:
            return Where(alarm.lat, alarm.lon, f"alarm {alarm.id}")
    for call in calls:
        fix = session.get(LocationFix, call.confirmed_fix_id) if call.confirmed_fix_id else None
        fix = fix or session.scalar(select(LocationFix).where(LocationFix.call_id == call.id)
                                    .order_by(LocationFix.received_at.desc()).limit(1))
        if fix is not None:
            return Where(fix.lat, fix.lon, f"call {call.id} ({fix.source})")
    if address and address.strip():
        geocoded = geocode(runtime, session, address[:300])
        if geocoded.found:
            return Where(geocoded.lat, geocoded.lon, "address", geocoded=geocoded)
        return Where(None, None, None, geocoded=geocoded)
    return Where(None, None, None)


def refuse_malformed_point(lat, lon) -> None:
    """A latitude or longitude that is not a number, or out of range, is refused, not dropped.

    Such a value is a typing mistake ("abc", "999"): making the incident without a position
    and saying nothing would send nobody anywhere. (0, 0, a device's default, is kept as a
    warning instead: the incident is made and the position asked for.)
    """
    try:
        validate_point(lat, lon)
    except ValueError as error:
        if "0, 0" not in str(error):
            raise IncidentProblem(400, "invalid_location", str(error), words=i18n.message("error.malformed_position"),
                                  lat=_shown(lat), lon=_shown(lon)) from None


def _shown(value):
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


def _linked(session: Session, model, ids, label: str) -> list:
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise IncidentProblem(400, f"invalid_{label}_ids", f"{label}_ids must be a list of whole numbers.", field=f"{label}_ids")
    storable = [i for i in ids if 1 <= i <= ID_MAX]  # an id the schema cannot hold names nothing
    rows = list(session.scalars(select(model).where(model.id.in_(storable)))) if storable else []
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise IncidentProblem(400, f"unknown_{label}s", f"There is no {label} {', '.join(map(str, missing))}.",
                              ids=[str(i) for i in missing])
    return rows


def _decide_or_unrouted(runtime: Runtime, session: Session, category, where: Where, priority) -> dict:
    """The routing decision; if the rules file itself is broken, an unrouted one that says so.

    An incident is never refused because routing is misconfigured: it is stored, flagged, and
    routed by hand, while the log and the warning name the fault in the rules.
    """
    try:
        engine = engine_for(runtime)
    except RulesError as error:
        log.error("incident created unrouted: %s", error)
        if not isinstance(category, str) or not category.strip():
            raise IncidentProblem(400, "missing_category", "Say what happened: category is required.") from None
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 9):
            raise IncidentProblem(400, "invalid_priority", "Priority must be a whole number from 1 to 9.") from None
        return {"category": category.strip()[:40], "category_label": None, "priority": priority or 5,
                "location": {"lat": where.lat, "lon": where.lon} if where.lat is not None else None,
                "jurisdiction": {"kota": None, "kecamatan": None, "kelurahan": None, "police_sector": None},
                "agencies": [], "recommended_units": [], "hospitals": [], "cameras": [],
                "warnings": ["The routing rules cannot be read, so this incident is not routed: route it by hand "
                             "and tell the administrator."],
                "notices": [i18n.message("warning.rules_unreadable")],
                "explanation": "Not routed: the routing rules cannot be read."}
    engine.sync(session)
    return engine.decide(category, where.lat, where.lon, priority)


def create_incident(runtime: Runtime, session: Session, *, category, description=None, location=None,
                    priority=None, call_ids=None, alarm_ids=None, actor: str | None = None) -> Incident:
    """Make an incident, route it, link its calls and alarms, and announce it to the consoles.

    Raises routing.engine.UnknownCategory (a ValueError listing the valid names), ValueError for
    a bad priority, or IncidentProblem for a bad link. A missing or impossible location does not
    raise: the incident is created and its routing carries the warning.
    """
    if description is not None and not isinstance(description, str):
        raise IncidentProblem(400, "invalid_description", "description must be text.")
    if not isinstance(category, str) or not category.strip():
        raise IncidentProblem(400, "missing_category", "Say what happened: category is required.")
    if location is not None and not isinstance(location, dict):
        raise IncidentProblem(400, "invalid_location", "location must be an object: {lat, lon} or {address}.")
    calls = _linked(session, Call, call_ids, "call")
    alarms = _linked(session, Alarm, alarm_ids, "alarm")
    address = (location or {}).get("address")
    if address is not None and not isinstance(address, str):
        raise IncidentProblem(400, "invalid_address", "address must be text.")
    where = _locate(runtime, session, location, address, calls, alarms)
    decision = _decide_or_unrouted(runtime, session, category, where, priority)
    decision["location_source"] = where.source
    if where.problem:
        decision["warnings"] = [w for w in decision["warnings"] if not w.startswith("No location is known yet")]
        decision["warnings"].insert(0, where.problem + " The incident is created without a position; ask for the location.")
        decision["notices"] = [n for n in decision.get("notices", []) if n.get("id") != "warning.no_location"]
        decision["notices"].insert(0, i18n.message("warning.position_not_used", problem=where.notice))
    elif where.geocoded is not None:
        note_on_decision(decision, where.geocoded, address)
    jurisdiction = decision["jurisdiction"]
    incident = Incident(
        category=decision["category"], description=clean(description, MAX_DESCRIPTION, multiline=True),
        status="new", priority=decision["priority"], lat=where.lat, lon=where.lon,
        address=address[:300] if address else None, kecamatan=jurisdiction["kecamatan"],
        kelurahan=jurisdiction["kelurahan"], police_sector=jurisdiction["police_sector"],
        routing=decision, created_by=actor,
    )
    session.add(incident)
    session.flush()
    for row in (*calls, *alarms):
        row.incident_id = incident.id
    sources = ([i18n.message("history.source.call", id=c.id) for c in calls]
               + [i18n.message("history.source.alarm", id=a.id) for a in alarms])
    event = i18n.message("history.created_from", sources=sources) if sources else i18n.message("history.created")
    session.add(IncidentEvent(incident_id=incident.id, status="new", actor=actor,
                              detail={"event": event, **({"warnings": decision["warnings"]} if decision["warnings"] else {})}))
    session.flush()
    audit.record(session, actor or "system", "incident.created", f"incident:{incident.id}",
                 detail={"category": incident.category, "calls": [c.id for c in calls], "alarms": [a.id for a in alarms]})
    events.publish(session, "incident.created", incident_summary(incident))
    return incident


def change_status(runtime: Runtime, session: Session, incident: Incident, status, note=None, actor: str | None = None) -> Incident:
    """Move an incident along its allowed transitions, keeping the history and crediting reporters."""
    if status not in INCIDENT_STATES:
        raise IncidentProblem(400, "invalid_status", f"Status must be one of {', '.join(INCIDENT_STATES)}.",
                              choices=[i18n.vocab("status", s) for s in INCIDENT_STATES])
    if note is not None and not isinstance(note, str):
        raise IncidentProblem(400, "invalid_note", "note must be text.")
    if status == incident.status:
        raise IncidentProblem(409, "same_status", f"The incident is {status} already.",
                              status=i18n.vocab("status", status))
    if status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(sorted(TRANSITIONS[incident.status])) or "none"
        raise IncidentProblem(409, "invalid_transition",
                              f"An incident that is {incident.status} cannot become {status}; it can become: {allowed}.",
                              status=i18n.vocab("status", incident.status), to=i18n.vocab("status", status),
                              allowed=[i18n.vocab("status", s) for s in sorted(TRANSITIONS[incident.status])] or "–")
    if status in NOTE_REQUIRED and not (note or "").strip():
        raise IncidentProblem(400, "note_required", "Say why in a note: it is kept in the incident's history.")
    previous, now = incident.status, utcnow()
    incident.status = status
    incident.updated_at = now
    if status in ("closed", "false_report"):
        incident.closed_at = now
    elif status == "new":
        incident.closed_at = None
    released = _release_units(session, incident, now) if status in RELEASES_UNITS else []
    if status in ("closed", "false_report"):
        notify.stop_retries(session, incident.id)
    session.add(IncidentEvent(incident_id=incident.id, status=status, note=(note or "").strip() or None, actor=actor,
                              detail={"from": previous, **({"released_units": released,
                                                            "event": i18n.message("history.released", units=released)}
                                                           if released else {})}))
    session.flush()
    if status in ("closed", "false_report"):
        _credit_reporters(runtime, session, incident, status == "false_report")
    audit.record(session, actor or "system", "incident.status", f"incident:{incident.id}",
                 detail={"from": previous, "to": status, "note": note})
    events.publish(session, "incident.updated", incident_summary(incident))
    return incident


MAX_NOTE = 2000


def add_note(session: Session, incident: Incident, note, actor: str | None = None) -> IncidentEvent:
    """A note in the incident's history without a change of status (what a caller added, a call made)."""
    if not isinstance(note, str) or not note.strip():
        raise IncidentProblem(400, "note_required", "Write the note first.")
    step = IncidentEvent(incident_id=incident.id, status=incident.status, note=note.strip()[:MAX_NOTE], actor=actor,
                         detail={"note_only": True})
    session.add(step)
    incident.updated_at = utcnow()
    session.flush()
    audit.record(session, actor or "system", "incident.note", f"incident:{incident.id}", detail={"note": step.note})
    events.publish(session, "incident.updated", incident_summary(incident))
    return step


def unit_reported(session: Session, unit: Unit, status: str, incident_id: int | None) -> None:
    """A unit's own status report on its incident's timeline; its first `on_scene` moves the incident on.

    Called by the units API after the unit's status is stored, with the incident the unit was on
    before (a unit reporting `available` is released from it). A unit reporting `on_scene` on a
    dispatched incident puts the incident on scene: the dispatcher sees it without asking.
    """
    incident = session.get(Incident, incident_id) if incident_id is not None else None
    if incident is None or incident.status not in OPEN_STATES:
        return
    if status not in UNIT_REPORTS:
        return
    previous = incident.status
    if status == "on_scene" and incident.status in ("new", "dispatched"):
        incident.status = "on_scene"
    incident.updated_at = utcnow()
    session.add(IncidentEvent(incident_id=incident.id, status=incident.status, actor=f"unit:{unit.callsign}",
                              detail={"unit_report": status, "unit": unit.callsign, "from": previous,
                                      "event": i18n.message(f"history.unit_report.{status}", unit=unit.callsign)}))
    session.flush()
    events.publish(session, "incident.updated", incident_summary(incident))


# The unit statuses a unit's own report writes on its incident's timeline (history.unit_report.<status>).
UNIT_REPORTS = ("dispatched", "on_scene", "available", "off_duty")


def reroute(runtime: Runtime, session: Session, incident: Incident, *, category=None, priority=None, location=None,
            note=None, actor: str | None = None) -> Incident:
    """Correct what is known (place, category, priority) and route the incident again.

    The usual case: an incident created while the caller could not say where, placed on the
    map later. A new address without lat/lon places it again from the address, unless its
    position came from the map, an alarm or a call's fix: any of those is closer than an
    estimate from names. The previous routing stays in the history.
    """
    if location is not None and not isinstance(location, dict):
        raise IncidentProblem(400, "invalid_location", "location must be an object: {lat, lon} or {address}.")
    routing = incident.routing or {}
    lat, lon, address = incident.lat, incident.lon, incident.address
    source = routing.get("location_source")
    placed = location is not None and ("lat" in location or "lon" in location)
    moved_address = False
    if location is not None:
        if placed:
            try:
                lat, lon = validate_point(location.get("lat"), location.get("lon"))
            except ValueError as error:
                raise IncidentProblem(400, "invalid_location", str(error), words=getattr(error, "notice", None)) from None
            source = "corrected"
        if location.get("address") is not None:
            if not isinstance(location["address"], str):
                raise IncidentProblem(400, "invalid_address", "address must be text.")
            moved_address = location["address"][:300] != address
            address = location["address"][:300]
    geocoded, kept = None, None
    if not placed and address and address.strip() and (moved_address or lat is None):
        if lat is None or source == "address":
            geocoded = geocode(runtime, session, address)
            lat, lon, source = (geocoded.lat, geocoded.lon, "address") if geocoded.found else (None, None, None)
        else:
            kept = (f"The new address did not move the incident: {_position_words(source)} is closer than one "
                    "estimated from an address. Place it on the map to move it.")
    engine = engine_for(runtime)
    engine.sync(session)
    asked = category if category is not None else incident.category
    keep_priority = priority is None and category is None
    decision = engine.decide(asked, lat, lon, incident.priority if keep_priority else priority)
    previous = {"category": incident.category, "priority": incident.priority, "lat": incident.lat,
                "lon": incident.lon, "routing": incident.routing}
    jurisdiction = decision["jurisdiction"]
    decision["location_source"] = source
    if geocoded is not None:
        note_on_decision(decision, geocoded, address)
    elif source == "address" and routing.get("geocode"):
        note_on_decision(decision, Geocoded.from_dict(routing["geocode"]), address)  # still the estimate made before
    if kept:
        decision["warnings"].insert(0, kept)
        decision.setdefault("notices", []).insert(0, i18n.message("warning.address_kept",
                                                                  position=_position_notice(source)))
    incident.category, incident.priority = decision["category"], decision["priority"]
    incident.lat, incident.lon, incident.address = lat, lon, address
    incident.kecamatan, incident.kelurahan = jurisdiction["kecamatan"], jurisdiction["kelurahan"]
    incident.police_sector, incident.routing, incident.updated_at = jurisdiction["police_sector"], decision, utcnow()
    session.add(IncidentEvent(incident_id=incident.id, status=incident.status, actor=actor, note=(note or "").strip() or None,
                              detail={"previous": previous, "event": i18n.message("history.rerouted")}))
    session.flush()
    audit.record(session, actor or "system", "incident.rerouted", f"incident:{incident.id}",
                 detail={"category": incident.category, "priority": incident.priority})
    events.publish(session, "incident.updated", incident_summary(incident))
    return incident


def _position_words(source: str | None) -> str:
    """Where a position came from, for a sentence: "the position given", "the fix of call 3 (aml)"."""
    if source == "given":
        return "the position given"
    if source == "corrected":
        return "the position set by hand"
    if source and source.startswith("call "):
        return f"the fix of {source}"
    if source and source.startswith("alarm "):
        return f"the position of {source}"
    return "its position"


def _position_notice(source: str | None) -> dict:
    """`_position_words` as a message."""
    if source == "given":
        return i18n.message("position.given")
    if source == "corrected":
        return i18n.message("position.corrected")
    if source and source.startswith("call "):
        return i18n.message("position.call_fix", source=source[len("call "):])
    if source and source.startswith("alarm "):
        return i18n.message("position.alarm", source=source[len("alarm "):])
    return i18n.message("position.its")


def _credit_reporters(runtime: Runtime, session: Session, incident: Incident, false_report: bool) -> None:
    try:
        from routing.reporters import on_incident_closed
    except ModuleNotFoundError as error:
        if error.name != "routing.reporters":
            raise
        log.error("routing.reporters is missing: reporters of incident %s were not credited", incident.id)
        return
    on_incident_closed(session, incident, false_report, strike_limit=runtime.settings.strike_limit)


def _release_units(session: Session, incident: Incident, now) -> list[str]:
    released = []
    for assignment in session.scalars(select(IncidentUnit).where(
            IncidentUnit.incident_id == incident.id, IncidentUnit.released_at.is_(None))):
        assignment.released_at = now
        unit = session.get(Unit, assignment.unit_id)
        if unit is not None and unit.incident_id == incident.id:
            unit.incident_id = None
            if unit.status in ("dispatched", "on_scene"):
                unit.status, unit.status_at = "available", now
            unit.updated_at = now
            released.append(unit.callsign)
    return released


def dispatch(runtime: Runtime, session: Session, incident: Incident, callsigns, actor: str | None = None, *,
             reassign: bool = False) -> list[int]:
    """Send units: their status becomes dispatched, the incident too, and SMS are queued.

    Returns the ids of the queued notifications; the caller sends them after committing
    (`routing.notify.deliver`) so a slow SMS gateway never holds the database transaction,
    and then lets the engine read the moved units (`engine_for(runtime).sync(session, force=True)`).
    """
    if not isinstance(callsigns, list) or not callsigns or not all(isinstance(c, str) and c.strip() for c in callsigns):
        raise IncidentProblem(400, "invalid_units", "units must be a list of call signs, e.g. [\"DAMKAR-1\"].")
    if incident.status in ("resolved", "closed", "false_report"):
        raise IncidentProblem(409, "incident_closed", f"The incident is {incident.status}; reopen it before dispatching.",
                              status=i18n.vocab("status", incident.status))
    callsigns = list(dict.fromkeys(c.strip().upper() for c in callsigns))
    units, missing = [], []
    for callsign in callsigns:
        try:
            units.append(find_unit(session, callsign))
        except LookupError:
            missing.append(callsign)
    if missing:
        raise IncidentProblem(404, "unknown_units", f"There is no unit {', '.join(missing)}.", units=missing)
    # Dispatch is idempotent per unit and incident: a unit already sent here (a second `d`, a
    # retried request, two dispatchers at once) is not sent again, and no second SMS goes out.
    already = {a.unit_id for a in session.scalars(select(IncidentUnit).where(
        IncidentUnit.incident_id == incident.id, IncidentUnit.released_at.is_(None)))}
    units = [u for u in units if not (u.id in already and u.incident_id == incident.id)]
    if not units:
        return []
    for unit in units:
        if unit.status == "off_duty":
            raise IncidentProblem(409, "unit_off_duty", f"Unit {unit.callsign} is off duty.", unit=unit.callsign)
        if unit.incident_id not in (None, incident.id) and not reassign:
            raise IncidentProblem(409, "unit_busy", f"Unit {unit.callsign} is assigned to incident {unit.incident_id}; "
                                                    "send reassign: true to take it off that one.",
                                   unit=unit.callsign, incident=unit.incident_id)
    now = utcnow()
    for unit in units:
        if unit.incident_id not in (None, incident.id):
            taken_from = unit.incident_id
            for old in session.scalars(select(IncidentUnit).where(IncidentUnit.unit_id == unit.id,
                                                                  IncidentUnit.released_at.is_(None))):
                old.released_at = now
            session.add(IncidentEvent(incident_id=taken_from, status=session.get(Incident, taken_from).status,
                                      actor=actor, detail={"reassigned_unit": unit.callsign, "to_incident": incident.id,
                                                           "event": i18n.message("history.reassigned", unit=unit.callsign,
                                                                                 incident=incident.id)}))
            events.publish(session, "incident.updated", {"id": taken_from})
        distance = (haversine_m(incident.lat, incident.lon, unit.lat, unit.lon)
                    if None not in (incident.lat, incident.lon, unit.lat, unit.lon) else None)
        unit.status, unit.status_at, unit.incident_id, unit.updated_at = "dispatched", now, incident.id, now
        session.add(IncidentUnit(incident_id=incident.id, unit_id=unit.id, callsign=unit.callsign,
                                 agency_code=unit.agency.code, dispatched_at=now, dispatched_by=actor,
                                 distance_m=distance))
    previous = incident.status
    if incident.status == "new":
        incident.status = "dispatched"
    incident.first_dispatch_at = incident.first_dispatch_at or now
    incident.updated_at = now
    session.add(IncidentEvent(incident_id=incident.id, status=incident.status, actor=actor,
                              detail={"from": previous, "units": [u.callsign for u in units],
                                      "event": i18n.message("history.dispatched", units=[u.callsign for u in units])}))
    session.flush()
    queued = _queue_messages(session, incident, units, runtime.settings.language)
    audit.record(session, actor or "system", "incident.dispatch", f"incident:{incident.id}",
                 detail={"units": [u.callsign for u in units]})
    events.publish(session, "incident.updated", incident_summary(incident))
    for unit in units:
        events.publish(session, "unit.updated", unit_to_dict(unit))
    return queued


def _message(incident: Incident, units: list[Unit], for_unit: Unit | None, lang: str | None = None) -> str:
    """The SMS to an agency or a unit, in the centre's language (`language`, Bahasa Indonesia by default)."""
    routing = incident.routing or {}
    place = ", ".join(filter(None, [incident.kelurahan and f"Kel. {incident.kelurahan}",
                                    incident.kecamatan and f"Kec. {incident.kecamatan}"]))
    if incident.lat is None:
        where = incident.address or i18n.translate("sms.location_unknown", lang)
    elif routing.get("location_source") == "address":  # a unit must not drive to a centre as if it were the place
        where = i18n.translate("sms.approximate", lang, address=(incident.address or "")[:100],
                               position=f"{incident.lat:.5f},{incident.lon:.5f}")
    else:
        where = f"{incident.lat:.5f},{incident.lon:.5f}"
    category = i18n.word("category", incident.category, lang, fallback=routing.get("category_label"))
    head = f"SIAGA112 #{incident.id} {category} P{incident.priority}"
    if for_unit is not None:
        head += " - " + i18n.translate("sms.unit_dispatched", lang, unit=for_unit.callsign)
    text = f"{head}: {where}" + (f" ({place})" if place else "")
    text += ". " + i18n.translate("sms.units", lang, units=", ".join(u.callsign for u in units))
    if incident.description:
        text += f" {incident.description[:120]}"
    return text[:320]


def _queue_messages(session: Session, incident: Incident, units: list[Unit], lang: str | None = None) -> list[int]:
    """One SMS per routed agency (once per incident, plus each newly sent unit's agency) and per unit phone."""
    already = {n.recipient for n in session.scalars(select(Notification).where(Notification.incident_id == incident.id))}
    agencies = {a["code"]: a for a in (incident.routing or {}).get("agencies", [])}
    for unit in units:
        agencies.setdefault(unit.agency.code, {"code": unit.agency.code, "sms_number": unit.agency.sms_number})
    ids = []
    for code, agency in agencies.items():
        recipient = f"agency:{code}"
        if agency.get("sms_number") and recipient not in already:
            ids.append(notify.queue(session, incident, recipient, agency["sms_number"], _message(incident, units, None, lang)).id)
    for unit in units:
        if unit.phone:
            ids.append(notify.queue(session, incident, f"unit:{unit.callsign}", unit.phone, _message(incident, units, unit, lang)).id)
    return ids


def find_incidents(session: Session, *, statuses=None, near=None, radius_m: float | None = None, limit: int = 100) -> list[tuple[Incident, float | None]]:
    """Incidents by status, optionally within radius_m of a point (nearest first), else most urgent first."""
    query = select(Incident)
    if statuses:
        query = query.where(Incident.status.in_(statuses))
    if near is None:
        query = query.order_by(Incident.priority.desc(), Incident.created_at.desc()).limit(limit)
        return [(incident, None) for incident in session.scalars(query)]
    lat, lon = near
    radius_m = radius_m or 1000.0
    # A box around the circle narrows the rows in SQL; the exact great circle decides.
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    query = query.where(Incident.lat.between(lat - dlat, lat + dlat), Incident.lon.between(lon - dlon, lon + dlon))
    found = []
    for incident in session.scalars(query):
        distance = haversine_m(lat, lon, incident.lat, incident.lon)
        if distance <= radius_m:
            found.append((incident, distance))
    found.sort(key=lambda pair: (pair[1], -pair[0].id))
    return found[:limit]


def incident_summary(incident: Incident) -> dict:
    """What the console's lists and events need."""
    routing = incident.routing or {}
    return {
        "id": incident.id,
        "category": incident.category,
        "category_label": routing.get("category_label"),
        "status": incident.status,
        "priority": incident.priority,
        "location": {"lat": incident.lat, "lon": incident.lon, "address": incident.address},
        "jurisdiction": {"kecamatan": incident.kecamatan, "kelurahan": incident.kelurahan,
                         "police_sector": incident.police_sector, "kota": (routing.get("jurisdiction") or {}).get("kota")},
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "first_dispatch_at": iso(incident.first_dispatch_at),
        "closed_at": iso(incident.closed_at),
    }


def incident_to_dict(session: Session, incident: Incident) -> dict:
    """The whole incident: summary, routing, linked calls and alarms, history, units, notifications."""
    data = incident_summary(incident)
    data.update({
        "description": incident.description,
        "created_by": incident.created_by,
        "routing": incident.routing,
        "call_ids": list(session.scalars(select(Call.id).where(Call.incident_id == incident.id).order_by(Call.id))),
        "alarm_ids": list(session.scalars(select(Alarm.id).where(Alarm.incident_id == incident.id).order_by(Alarm.id))),
        "history": [{"at": iso(e.at), "status": e.status, "note": e.note, "actor": e.actor, "detail": e.detail,
                     "event": i18n.render((e.detail or {}).get("event")) if isinstance(e.detail, dict) else ""}
                    for e in session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                             .order_by(IncidentEvent.id))],
        "units": [{"callsign": a.callsign, "agency": a.agency_code, "dispatched_at": iso(a.dispatched_at),
                   "dispatched_by": a.dispatched_by, "distance_m": a.distance_m, "released_at": iso(a.released_at)}
                  for a in session.scalars(select(IncidentUnit).where(IncidentUnit.incident_id == incident.id)
                                           .order_by(IncidentUnit.id))],
        "notifications": [notify.notification_to_dict(n) for n in session.scalars(
            select(Notification).where(Notification.incident_id == incident.id).order_by(Notification.id))],
    })
    return data
