"""Loading places for routing tests: the real city files from the shared data, the demo city, units."""

from __future__ import annotations

import pytest

from routing.places import import_boundaries
from routing.rules import load_rules
from routing.units import add_unit
from tests.support.data import shared_file

CITY_FILES = {
    "malang": ("boundaries/kota_malang_kecamatan.geojson", "boundaries/kota_malang_kelurahan.geojson"),
    "probolinggo": ("boundaries/kota_probolinggo_kecamatan.geojson", "boundaries/kota_probolinggo_kelurahan.geojson"),
}


def load_real_cities(session, *cities: str) -> None:
    """Import kecamatan and kelurahan of the named cities (skips the test if the files are absent)."""
    for city in cities or CITY_FILES:
        kecamatan, kelurahan = CITY_FILES[city]
        import_boundaries(session, shared_file(kecamatan), "kecamatan")
        import_boundaries(session, shared_file(kelurahan), "kelurahan")


@pytest.fixture
def rules(runtime):
    return load_rules(runtime.settings.routing_rules)


@pytest.fixture
def demo_city(runtime, rules):
    """The demo city seeded into this test's database."""
    from routing.demo import seed_demo

    with runtime.database.session() as session:
        seed_demo(session, rules)


def add_units(database, rules, specs) -> None:
    """specs: (callsign, agency, kind, lat, lon[, phone]) stationed units."""
    with database.session() as session:
        for spec in specs:
            callsign, agency, kind, lat, lon, *rest = spec
            add_unit(session, rules, callsign, agency, kind, lat=lat, lon=lon, phone=rest[0] if rest else None)
