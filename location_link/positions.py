"""Positions from a caller's browser: each one a location fix with source `link`, kept beside the others.

For a call, a fix is added and the consoles are told (`call.updated`); which fix the call shows
stays `ivr.location.best_fix`'s choice, and a fix the call-taker confirmed is never replaced: a
newer one is only offered. For an alarm that came without a position, the first position places
it and routes it; later ones move it only while the link is what placed it.
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from ivr.calls import add_fixes
from ivr.location import Fix
from routing.geo import validate_point
from siaga112 import events
from siaga112.db import utcnow
from siaga112.errors import ApiError
from siaga112.models import Alarm, LocationLink

log = logging.getLogger(__name__)

SOURCE = "link"
MAX_ACCURACY_M = 100_000.0  # a browser reporting a wider circle than this has no position worth keeping
CLOCK_SLACK = timedelta(minutes=10)  # a phone's own time further off than this is not believed
LINK_PLACED = "location link"


def read_position(body: dict) -> tuple[float, float, float | None, datetime | None, dict]:
    """(lat, lon, accuracy_m, observed_at, detail) from the phone's JSON, or a 400 that says what is wrong."""
    try:
        lat, lon = validate_point(body.get("lat"), body.get("lon"))
    except ValueError as error:
        raise ApiError(400, "invalid_location", str(error)) from None
    accuracy = body.get("accuracy_m")
    if accuracy is not None:
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy) \
                or not 0 <= accuracy <= MAX_ACCURACY_M:
            raise ApiError(400, "invalid_accuracy",
                           f"The accuracy must be a number of metres between 0 and {MAX_ACCURACY_M:g}.")
        accuracy = float(accuracy)
    observed_at = None
    stamp = body.get("timestamp_ms")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and math.isfinite(stamp):
        when = datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
        if abs(when - utcnow()) <= CLOCK_SLACK:
            observed_at = when
    detail = {}
    for name in ("altitude_m", "heading", "speed_mps"):
        value = body.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            detail[name] = round(float(value), 2)
    return lat, lon, accuracy, observed_at, detail


def keep_position(session: Session, runtime, link: LocationLink, lat: float, lon: float, accuracy: float | None,
                  observed_at: datetime | None, detail: dict) -> None:
    """Store one position for the link's call or alarm and tell the consoles (the caller commits)."""
    now = utcnow()
    detail = {"link_id": link.id, **detail}
    link.positions += 1
    link.last_position_at = now
    if link.call_id is not None:
        add_fixes(session, link.call_id, [Fix(SOURCE, lat, lon, accuracy, observed_at, detail)], now=now)
        events.publish(session, "call.updated", {"id": link.call_id, "location_source": SOURCE})
        return
    alarm = session.get(Alarm, link.alarm_id)
    if alarm is None:
        return
    flags = dict(alarm.flags or {})
    if alarm.lat is not None and flags.get("located_by") != LINK_PLACED:
        flags["link_position"] = {"lat": lat, "lon": lon, "accuracy_m": accuracy}  # offered, not swapped in
        alarm.flags = flags
    else:
        alarm.lat, alarm.lon, alarm.accuracy_m = lat, lon, accuracy
        flags["located_by"] = LINK_PLACED
        flags.pop("location_warning", None)
        alarm.flags = flags
        alarm.routing = _route(runtime, session, alarm, lat, lon)
    session.flush()
    from routing.alarms.store import alarm_json

    events.publish(session, "alarm.updated", alarm_json(session, alarm))


def _route(runtime, session: Session, alarm: Alarm, lat: float, lon: float):
    """Route the alarm from its new position; trouble leaves the routing it had (never loses the position)."""
    if not alarm.category:
        return alarm.routing
    from routing import service

    guard = session.begin_nested() if session.get_bind().dialect.name == "postgresql" else nullcontext()
    try:
        with guard:
            return service.route(runtime, session, alarm.category, lat, lon, alarm.priority)
    except Exception:  # noqa: BLE001 - the position is kept; routing is done by hand
        log.exception("alarm %s could not be routed from its link position", alarm.id)
        return alarm.routing
