"""The demo city Siaga112 carries itself: "Kota Siaga", invented boundaries, stations, units, cameras.

`siaga112 seed demo` loads it so the main job has something to route on a fresh machine.
Loading twice changes nothing: boundaries and points are matched by code, units by call sign,
cameras by name.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.cameras import add_camera
from routing.places import import_boundaries, import_pois
from routing.rules import Rules
from routing.units import add_unit, ensure_agencies
from siaga112.models import Agency, Camera, Unit

DEMO_DIR = Path(__file__).resolve().parent / "demo_city"
CENTER = (-7.980, 112.630)  # the middle of the demo city, for maps and examples


def _rows(name: str) -> list[dict]:
    with open(DEMO_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def seed_demo(session: Session, rules: Rules) -> dict[str, int]:
    """Load the demo city; returns how many of each thing were newly added."""
    added = {"jurisdictions": 0, "pois": 0, "agencies": 0, "units": 0, "cameras": 0}
    for level in ("kecamatan", "kelurahan"):
        added["jurisdictions"] += import_boundaries(session, DEMO_DIR / f"{level}.geojson", level)["created"]
    added["pois"] = import_pois(session, DEMO_DIR / "pois.geojson")["created"]
    agencies_before = set(session.scalars(select(Agency.code)))
    added["agencies"] = len(set(ensure_agencies(session, rules)) - agencies_before)
    existing = set(session.scalars(select(Unit.callsign)))
    for row in _rows("units.csv"):
        if row["callsign"] in existing or row["agency"] not in rules.agencies:
            continue
        add_unit(session, rules, row["callsign"], row["agency"], row["kind"], phone=row["phone"] or None,
                 lat=float(row["lat"]), lon=float(row["lon"]))
        added["units"] += 1
    cameras = set(session.scalars(select(Camera.name)))
    for row in _rows("cameras.csv"):
        add_camera(session, row["name"], float(row["lat"]), float(row["lon"]),
                   stream_url=row["stream_url"] or None, snapshot_url=row["snapshot_url"] or None)
        added["cameras"] += row["name"] not in cameras
    return added
