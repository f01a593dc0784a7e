"""The one door into routing for every source: calls, incidents, app SOS, panic buttons, SMS.

Callers pass a category (or an alias such as an IVR service choice or an alarm kind) and a
position; they get the routing decision as plain JSON-ready data. The engine is built once per
runtime and brought up to date from the database before each decision.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from siaga112.runtime import Runtime
from routing.engine import RoutingEngine, UnknownCategory
from routing.rules import load_rules

__all__ = ["route", "engine_for", "UnknownCategory", "valid_categories"]


def _build_engine(settings) -> RoutingEngine:
    return RoutingEngine(
        load_rules(settings.routing_rules),
        unit_speed_kmh=settings.unit_speed_kmh,
        unit_stale_seconds=settings.unit_stale_seconds,
    )


def engine_for(runtime: Runtime) -> RoutingEngine:
    """The runtime's routing engine (rules read and validated once)."""
    return runtime.client("routing_engine", _build_engine)


def valid_categories(runtime: Runtime) -> list[str]:
    """Category names and aliases the rules accept, for error messages and forms."""
    return engine_for(runtime).rules.accepted_names()


def route(runtime: Runtime, session: Session, category: str, lat, lon, priority: int | None = None) -> dict:
    """Route one request: jurisdiction, agencies, ranked available units, hospitals, cameras, why.

    Returns {category, priority, location, jurisdiction: {kota, kecamatan, kelurahan,
    police_sector}, agencies: [{code, name, sms_number}], recommended_units: [{callsign, agency,
    kind, distance_m, eta_s}], hospitals: [...], cameras: [...], explanation, warnings}.
    A missing, impossible or out-of-area position is not an error: the decision comes back with
    the reason in `warnings`. Raises UnknownCategory (a ValueError) for a category the rules lack.
    """
    engine = engine_for(runtime)
    engine.sync(session)
    return engine.decide(category, lat, lon, priority)
