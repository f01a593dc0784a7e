"""What the console shows of calls, alarms and incidents: plain JSON-ready dicts for pages and scripts.

Calls and alarms are serialised by their own domains (the contract's shapes); the console adds
what only it needs: queue marks, every location fix, earlier calls, incidents nearby.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.location import best_fix as _best_fix
from ivr.serialise import calls_to_dicts
from routing.alarms.store import alarm_json
from routing.incidents import OPEN_STATES as OPEN_INCIDENT_STATES
from routing.incidents import find_incidents
from siaga112 import i18n
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, Call, Incident, LocationFix
from siaga112.models.calls import SERVICE_CHOICES

__all__ = ["alarm_json", "OPEN_INCIDENT_STATES"]
NEARBY_RADIUS_M = 1500.0  # how far around a caller to look for an incident they may be calling about
EARLIER_CALLS = 10
CALLBACK_WINDOW = timedelta(hours=24)


def fix_json(fix: LocationFix, now: datetime | None = None) -> dict:
    now = now or utcnow()
    seen = fix.observed_at or fix.received_at
    return {
        "id": fix.id, "source": fix.source, "lat": fix.lat, "lon": fix.lon, "accuracy_m": fix.accuracy_m,
        "observed_at": iso(fix.observed_at), "received_at": iso(fix.received_at),
        "age_s": max(0, int((now - seen).total_seconds())) if seen else None,
        "note": (fix.detail or {}).get("note"),
        "warnings": (fix.detail or {}).get("warnings") or [],
    }


def best_fix(call: Call) -> LocationFix | None:
    """The confirmed fix, else the most accurate current one (the calls domain's rule)."""
    return _best_fix(list(call.fixes), call.confirmed_fix_id)


def calls_json(session: Session, calls: list[Call]) -> list[dict]:
    """Calls as the queue shows them: the contract's shape plus repeat, silent and 55 marks, the
    caller's landmark and the names of the place their best position lies in."""
    items = calls_to_dicts(session, calls)
    for call, item in zip(calls, items):
        item["category_hint"] = item["category_hint"] or category_choices(call.service_choice)
        item.update(repeat_count=call.repeat_count, silent=call.silent,
                    silent_emergency=bool(call.silent_emergency), landmark=call.landmark)
        location = item.get("location")
        item["place"] = place_names(session, location["lat"], location["lon"]) if location else None
    return items


def place_names(session: Session, lat: float, lon: float) -> dict | None:
    """The kelurahan and kecamatan a point lies in, from the imported boundaries (None outside them).

    A call-taker reads "Kel. Kebonsari, Kec. Siaga Utara" to the caller long before an incident
    (and its routing) exists; the routing engine's index answers in microseconds.
    """
    from flask import current_app

    from routing.service import engine_for

    try:
        engine = engine_for(current_app.extensions["siaga112"])
        engine.sync(session)
        names = engine.jurisdictions.locate(lat, lon).names
    except Exception:  # noqa: BLE001 - a place name is a help; broken rules must not hide the call
        return None
    if not (names.get("kelurahan") or names.get("kecamatan")):
        return None
    return {"kelurahan": names.get("kelurahan"), "kecamatan": names.get("kecamatan"), "kota": names.get("kota")}


def call_json(session: Session, call: Call) -> dict:
    return calls_json(session, [call])[0]


def call_detail(session: Session, call: Call) -> dict:
    """Everything the call view shows: the call, all its fixes, earlier calls, incidents nearby."""
    now = utcnow()
    detail = call_json(session, call)
    fixes = sorted(call.fixes, key=lambda f: f.received_at or now, reverse=True)
    confirmed = next((f for f in fixes if f.id == call.confirmed_fix_id), None)
    detail["fixes"] = [fix_json(f, now) for f in fixes]
    detail["confirmed_fix_id"] = call.confirmed_fix_id
    # A newer fix is offered, never swapped in: the call-taker confirmed what they confirmed.
    detail["newer_fix_id"] = next(
        (f.id for f in fixes if confirmed is not None and f.id > confirmed.id), None)
    detail["earlier_calls"] = earlier_calls(session, call)
    best = detail["location"]
    detail["nearby_incidents"] = nearby_incidents(session, best["lat"], best["lon"]) if best else []
    return detail


def earlier_calls(session: Session, call: Call) -> list[dict]:
    if not call.caller:
        return []
    rows = session.scalars(
        select(Call).where(Call.caller == call.caller, Call.id != call.id, Call.started_at <= call.started_at)
        .order_by(Call.started_at.desc()).limit(EARLIER_CALLS))
    return [{"id": c.id, "state": c.state, "started_at": iso(c.started_at), "incident_id": c.incident_id,
             "category_hint": c.category_hint or c.service_choice, "prank_suspect": c.prank_suspect}
            for c in rows]


def nearby_incidents(session: Session, lat: float, lon: float, radius_m: float = NEARBY_RADIUS_M) -> list[dict]:
    """Open incidents within `radius_m`, nearest first."""
    found = find_incidents(session, statuses=OPEN_INCIDENT_STATES, near=(lat, lon), radius_m=radius_m, limit=20)
    return [{**incident_summary(incident), "distance_m": round(distance)} for incident, distance in found]


def incident_summary(incident: Incident) -> dict:
    return {
        "id": incident.id, "category": incident.category, "status": incident.status,
        "priority": incident.priority, "description": incident.description, "lat": incident.lat,
        "lon": incident.lon, "address": incident.address, "kecamatan": incident.kecamatan,
        "kelurahan": incident.kelurahan, "created_at": iso(incident.created_at),
    }


def queue(session: Session) -> list[dict]:
    """Waiting calls, highest priority first, then longest waiting (as the contract's queue)."""
    rows = session.scalars(select(Call).where(Call.state == "queued")
                           .order_by(Call.priority.desc(), Call.queued_at.asc(), Call.id.asc()))
    return calls_json(session, list(rows))


# Alarms with nothing to send anyone to: a panel gone silent is work for a technician, not a
# dispatcher. They are listed apart and closed without an incident. An alarm the routing was not
# asked about (no category) is technical too, whatever new kind a source invents.
TECHNICAL_ALARM_KINDS = frozenset({"panel_offline"})
URGENT_ALARM_KINDS = frozenset({"panic", "holdup", "duress", "sos"})


def is_technical(alarm: dict) -> bool:
    return alarm["kind"] in TECHNICAL_ALARM_KINDS or not alarm.get("category")


def open_alarms(session: Session) -> list[dict]:
    """Open alarms, most urgent first, then newest; each marked technical or urgent."""
    rows = session.scalars(select(Alarm).where(Alarm.state != "closed", Alarm.incident_id.is_(None))
                           .order_by(Alarm.priority.desc(), Alarm.received_at.desc()).limit(200))
    items = [alarm_json(session, a) for a in rows]
    for item in items:
        item["technical"] = is_technical(item)
        item["urgent"] = not item["technical"] and (item["kind"] in URGENT_ALARM_KINDS or item["priority"] >= 9)
    return items


def callbacks(session: Session) -> list[dict]:
    """Abandoned and silent calls of the last day, newest first: the people to call back."""
    since = utcnow() - CALLBACK_WINDOW
    rows = session.scalars(select(Call).where(
        Call.started_at >= since, (Call.state == "abandoned") | (Call.silent.is_(True)),
        Call.state != "queued").order_by(Call.started_at.desc()).limit(200))
    return calls_json(session, list(rows))


def category_choices(alias: str | None) -> str | None:
    """A service choice digit or word as a category word (the IVR may store either)."""
    if alias is None:
        return None
    return SERVICE_CHOICES.get(alias, alias)


def timeline(incident: Incident) -> list[dict]:
    """The incident's history in the viewer's words: what the centre did (`detail.event`, a stored
    message) apart from what a person wrote (`note`)."""
    steps = []
    for step in incident.history:
        event = (step.detail or {}).get("event") if isinstance(step.detail, dict) else None
        steps.append({"at": step.at, "status": step.status, "actor": step.actor,
                      "event": i18n.render(event) if event else "", "note": step.note})
    return steps


def routing_warnings(routing: dict | None) -> list[str]:
    """A routing decision's warnings in the viewer's words (`notices`, stored messages); a decision
    stored before notices existed keeps its sentences."""
    routing = routing or {}
    notices = routing.get("notices")
    if isinstance(notices, list):
        return [i18n.render(notice) for notice in notices]
    return list(routing.get("warnings") or [])
