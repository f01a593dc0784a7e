"""Jurisdictions from the real Kota Malang and Kota Probolinggo boundaries."""

from __future__ import annotations

import json
import random

import pytest
from shapely.geometry import shape

from routing.places import JurisdictionIndex
from routing.service import route
from tests.support.data import shared_file
from tests.support.routing_data import load_real_cities


def _kelurahan_points(city: str):
    """(lat, lon, kelurahan, kecamatan) for a point inside every kelurahan of the city's file."""
    features = json.loads(shared_file(f"boundaries/kota_{city}_kelurahan.geojson").read_text())["features"]
    for feature in features:
        point = shape(feature["geometry"]).representative_point()
        props = feature["properties"]
        yield point.y, point.x, props["nama"], props["nama_kecamatan"]


@pytest.mark.parametrize("city", ["malang", "probolinggo"])
def test_every_kelurahan_of_the_real_city_is_found_with_its_kecamatan_and_polsek(session, runtime, city):
    load_real_cities(session, city)
    session.commit()
    index = JurisdictionIndex.from_session(session)
    points = list(_kelurahan_points(city))
    assert len(points) == {"malang": 57, "probolinggo": 29}[city]
    for lat, lon, kelurahan, kecamatan in points:
        located = index.locate(lat, lon)
        assert (located.kelurahan.name, located.kecamatan.name) == (kelurahan, kecamatan)
        assert located.police_sector == f"Polsek {kecamatan}"
        assert located.kota == f"Kota {city.capitalize()}"


def test_the_tree_lookup_gives_the_same_answer_as_checking_every_polygon(session):
    load_real_cities(session)
    session.commit()
    index = JurisdictionIndex.from_session(session)
    rng = random.Random(112)
    for _ in range(2000):
        # Points over and around both cities, some outside every polygon.
        lat, lon = rng.choice([(-7.98, 112.63), (-7.76, 113.21)])
        lat, lon = lat + rng.uniform(-0.08, 0.08), lon + rng.uniform(-0.08, 0.08)
        fast, slow = index.locate(lat, lon), index.locate(lat, lon, linear=True)
        assert (fast.kecamatan, fast.kelurahan, fast.police_sector) == (slow.kecamatan, slow.kelurahan, slow.police_sector)


def test_a_point_outside_both_cities_is_said_plainly_and_still_routed(session, runtime):
    load_real_cities(session)
    session.commit()
    decision = route(runtime, session, "crime", -7.25, 112.75)  # Surabaya: no boundaries loaded there
    assert decision["jurisdiction"] == {"kota": None, "kecamatan": None, "kelurahan": None, "police_sector": None}
    assert decision["agencies"][0]["code"] == "police"
    assert any("outside every known jurisdiction" in w and "nearest is Kecamatan" in w for w in decision["warnings"])


def test_a_position_in_probolinggo_routes_to_its_polsek(session, runtime):
    load_real_cities(session)
    session.commit()
    lat, lon, kelurahan, kecamatan = next(p for p in _kelurahan_points("probolinggo") if p[3] == "Mayangan")
    decision = route(runtime, session, "fire", lat, lon)
    assert decision["jurisdiction"]["police_sector"] == "Polsek Mayangan"
    assert f"Kelurahan {kelurahan}, Kecamatan Mayangan, Kota Probolinggo" in decision["explanation"]


def test_kelurahan_loaded_alone_still_name_their_kecamatan_and_polsek(session, runtime):
    from routing.places import import_boundaries

    import_boundaries(session, shared_file("boundaries/kota_malang_kelurahan.geojson"), "kelurahan")
    session.commit()
    lat, lon, kelurahan, kecamatan = next(p for p in _kelurahan_points("malang") if p[3] == "Sukun")
    decision = route(runtime, session, "crime", lat, lon)
    assert decision["jurisdiction"]["kelurahan"] == kelurahan
    assert decision["jurisdiction"]["kecamatan"] == "Sukun"
    assert decision["jurisdiction"]["police_sector"] == "Polsek Sukun"
