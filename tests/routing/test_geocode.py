"""Addresses placed from the names the database holds: the real cities, the demo city, ambiguity, junk."""

from __future__ import annotations

import csv
import json

import pytest
from shapely.geometry import Point, shape

from routing.geo import haversine_m
from routing.geocode import POI_ACCURACY_M, Gazetteer, geocode, geocoder_for
from routing.places import import_boundaries, import_pois
from routing.service import route
from tests.support.data import shared_file
from tests.support.routing_data import load_real_cities

KOTA_FILE = "boundaries/kota_malang_probolinggo_kota.geojson"
GAZETTEER_FILE = "boundaries/kota_malang_probolinggo_gazetteer.csv"
# How people write one kelurahan: a full postal line, the way map apps print it, an SMS.
ADDRESS_FORMS = {
    "postal": "Jl. Ijen 5, Kel. {kelurahan}, Kec. {kecamatan}, {kota}",
    "maps": "Jl. Ijen No.5, {kelurahan}, Kec. {kecamatan}, {kota}, Jawa Timur",
    "bare": "{kelurahan}, {kecamatan}, {kota}",
    "sms": "rt 3 rw 5 kel {kelurahan_lower} kec {kecamatan_lower} {kota_lower}",
}


def _gazetteer_rows(level: str) -> list[dict]:
    with open(shared_file(GAZETTEER_FILE), newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["level"].split("/")[0] == level]


def _polygons() -> dict[str, object]:
    """Every real kelurahan and kecamatan boundary by its code, as the source files draw it."""
    polygons = {}
    for city in ("malang", "probolinggo"):
        for level in ("kelurahan", "kecamatan"):
            features = json.loads(shared_file(f"boundaries/kota_{city}_{level}.geojson").read_text())["features"]
            polygons.update({f["properties"]["kode"]: shape(f["geometry"]) for f in features})
    return polygons


@pytest.fixture
def real_cities(session):
    """Kota Malang and Kota Probolinggo: kota outlines, kecamatan and kelurahan, as the CLI imports them."""
    load_real_cities(session)
    import_boundaries(session, shared_file(KOTA_FILE), "kota")
    session.commit()
    return Gazetteer.from_session(session)


@pytest.fixture
def demo_names(session, demo_city):
    return Gazetteer.from_session(session)


@pytest.mark.parametrize("form", ADDRESS_FORMS)
def test_every_real_kelurahan_is_found_from_its_name_and_placed_inside_it(real_cities, form):
    polygons = _polygons()
    rows = _gazetteer_rows("kelurahan")
    assert len(rows) == 86
    for row in rows:
        names = {"kelurahan": row["nama_kemendagri"], "kecamatan": row["kecamatan"], "kota": row["kota"]}
        names.update({f"{key}_lower": value.lower() for key, value in list(names.items())})
        found = real_cities.find(ADDRESS_FORMS[form].format(**names))
        assert found.found, (row["nama_kemendagri"], found.sentence)
        assert (found.matched.level, found.matched.code) == ("kelurahan", row["kode"])
        assert polygons[row["kode"]].covers(Point(found.lon, found.lat)), row["nama_kemendagri"]
        assert "confirm the exact place with the caller" in found.sentence


def test_every_real_kecamatan_is_placed_where_routing_finds_that_kecamatan(real_cities, session, runtime):
    rows = _gazetteer_rows("kecamatan")
    assert len(rows) == 10
    for row in rows:
        found = real_cities.find(f"Kec. {row['nama_kemendagri']}, {row['kota']}")
        assert (found.matched.level, found.matched.code) == ("kecamatan", row["kode"])
        decision = route(runtime, session, "fire", found.lat, found.lon)
        assert decision["jurisdiction"]["kecamatan"] == row["nama_kemendagri"]
        assert decision["jurisdiction"]["kota"] == row["kota"]


def test_the_accuracy_circle_holds_the_whole_kelurahan(real_cities):
    found = real_cities.find("Kel. Oro-oro Dowo, Kec. Klojen")
    polygon = _polygons()["35.73.02.1008"]
    farthest = max(haversine_m(found.lat, found.lon, lat, lon) for lon, lat in polygon.exterior.coords)
    assert found.accuracy_m == pytest.approx(farthest, abs=1.0)
    assert 300 < found.accuracy_m < 3000
    assert "the centre of Kelurahan Oro-oro Dowo, Kecamatan Klojen, Kota Malang (the place can be up to" in found.sentence


def test_the_most_specific_place_named_wins(real_cities):
    kelurahan = real_cities.find("Kel. Kauman, Kec. Klojen, Kota Malang")
    kecamatan = real_cities.find("Kec. Klojen, Kota Malang")
    kota = real_cities.find("Kota Malang")
    assert [r.matched.level for r in (kelurahan, kecamatan, kota)] == ["kelurahan", "kecamatan", "kota"]
    assert kelurahan.accuracy_m < kecamatan.accuracy_m < kota.accuracy_m
    assert "kelurahan shown is only the one at that centre" in kecamatan.sentence


@pytest.mark.parametrize("address, code", [
    ("Kel. Klojen", "35.73.02.1001"),
    ("Kec. Klojen", "35.73.02"),
    ("Klojen", "35.73.02"),  # kelurahan or kecamatan: only the kecamatan is certain
    ("Klojen, Kec. Klojen", "35.73.02.1001"),  # named again as the kecamatan, the first is the kelurahan
    ("Kelurahan/Desa Klojen", "35.73.02.1001"),
])
def test_a_kelurahan_named_like_its_kecamatan_is_read_by_the_level_word(real_cities, address, code):
    assert real_cities.find(address).matched.code == code


def test_spacing_hyphens_case_and_doubled_words_do_not_matter(real_cities):
    for address, code in [("Tasikmadu", "35.73.05.1012"), ("Tasik-Madu", "35.73.05.1012"),
                          ("TASIK MADU, LOWOKWARU", "35.73.05.1012"), ("Oro2 Dowo", "35.73.02.1008"),
                          ("Orooro Dowo", "35.73.02.1008"), ("ORO-ORO DOWO.", "35.73.02.1008"),
                          ("Gadingkasri", "35.73.02.1010"), ("Kel. Kedungasem", "35.74.02.1005")]:
        assert real_cities.find(address).matched.code == code, address


def test_a_longer_name_is_not_taken_for_a_shorter_one(real_cities):
    assert real_cities.find("Kel. Kebonsari Wetan").matched.code == "35.74.04.1004"
    assert real_cities.find("Kebonsari Kulon, Kanigaran").matched.code == "35.74.04.1006"
    assert real_cities.find("Kel. Kebonsari, Kec. Sukun").matched.code == "35.73.04.1003"


def test_a_kelurahan_of_two_cities_is_not_placed_until_the_kota_or_kecamatan_settles_it(real_cities):
    alone = real_cities.find("Jl. Mawar 3, Kel. Sukoharjo")
    assert not alone.found and alone.lat is None and alone.matched is None
    assert {c.code for c in alone.candidates} == {"35.73.02.1005", "35.74.04.1002"}
    assert "Kecamatan Klojen, Kota Malang" in alone.sentence and "Kecamatan Kanigaran, Kota Probolinggo" in alone.sentence
    assert "ask the caller which" in alone.sentence
    assert real_cities.find("Kel. Sukoharjo, Kota Probolinggo").matched.code == "35.74.04.1002"
    assert real_cities.find("Sukoharjo, Kec. Klojen").matched.code == "35.73.02.1005"
    assert real_cities.find("Kel. Sukoharjo, Malang").matched.code == "35.73.02.1005"


def test_a_kelurahan_of_two_kecamatan_in_the_demo_and_a_real_city_is_settled_by_the_kecamatan(session, demo_city):
    load_real_cities(session, "malang")
    session.commit()
    names = Gazetteer.from_session(session)
    alone = names.find("Kebonsari")
    assert {c.code for c in alone.candidates} == {"35.73.04.1003", "99.71.01.1002"}
    assert names.find("Kebonsari, Kec. Sukun").matched.code == "35.73.04.1003"
    assert names.find("Kel. Kebonsari, Siaga Utara").matched.code == "99.71.01.1002"
    assert names.find("Kebonsari, Kota Siaga").matched.code == "99.71.01.1002"


def test_two_kelurahan_in_one_address_give_no_position_and_both_are_named(real_cities):
    found = real_cities.find("Kel. Kauman, Kel. Bareng")
    assert not found.found
    assert {c.name for c in found.candidates} == {"Kauman", "Bareng"}


def test_a_kecamatan_that_does_not_contain_the_kelurahan_is_pointed_out(real_cities):
    found = real_cities.find("Kel. Tlogomas, Kec. Blimbing, Kota Malang")
    assert found.matched.code == "35.73.05.1003"
    assert [d.name for d in found.disagrees] == ["Blimbing"]
    assert "also names Kecamatan Blimbing, Kota Malang, which does not contain it" in found.sentence


def test_a_kabupaten_is_not_taken_for_the_kota_of_the_same_name(real_cities):
    found = real_cities.find("Desa Sumberejo, Kab. Probolinggo")
    assert not found.found
    assert "Kabupaten Probolinggo" in found.unknown and "Kelurahan Sumberejo" in found.unknown
    assert real_cities.find("Kota Probolinggo").matched.code == "35.74"


@pytest.mark.parametrize("address", ["Jl. Blimbing 12", "Jalan Raya Sukun", "Gg. Kauman III"])
def test_a_street_named_after_a_place_does_not_place_the_address(real_cities, address):
    assert not real_cities.find(address).found


def test_the_place_after_a_street_still_counts(real_cities):
    assert real_cities.find("Jl. Sukun 12 Bareng").matched.name == "Bareng"
    assert real_cities.find("Jl. Kawi dekat Kauman").matched.name == "Kauman"


def test_an_address_of_unknown_names_says_which_names_are_not_known(real_cities):
    named = real_cities.find("Jl. Melati 4, Kel. Mawar Indah, Kec. Bunga")
    assert not named.found and named.unknown == ("Kelurahan Mawar Indah", "Kecamatan Bunga")
    assert named.sentence == "Kelurahan Mawar Indah and Kecamatan Bunga are not among the places loaded."
    vague = real_cities.find("dekat pasar, sebelah masjid")
    assert not vague.found and not vague.candidates
    assert "names no kelurahan, kecamatan, kota or landmark" in vague.sentence


def test_an_unknown_kelurahan_beside_a_known_kota_is_placed_in_the_kota_and_says_so(real_cities):
    found = real_cities.find("Kel. Mawar, Kota Malang")
    assert found.matched.level == "kota"
    assert "Kelurahan Mawar is not among the places loaded" in found.sentence


HOSTILE = (  # each must give "no match"
    None, 12, 3.5, ["Klojen"], {"address": "Klojen"}, b"Klojen", "", "   ", "\x00" * 2000, "\x1b[31m\x07\x08\x7f",
    "Москва, ул. Ленина 5", "東京都千代田区", "القاهرة", "🔥🚒🔥" * 100, "\u202e\u200b\u200d\ufeff",
    "\ud800\udfff", "Z\u0351\u0352\u0353\u0354" * 200, "Kel. " * 500, "(" * 5000, "%s%n{0}{address}\\x00",
    "a" * 1_000_000, "2" * 300, "kel kec kota kab desa jl rt rw no",
)


def test_hostile_input_gives_no_match_and_never_an_exception(real_cities):
    for address in HOSTILE:
        found = real_cities.find(address)
        assert not found.found and found.lat is None and found.candidates == (), repr(address)[:80]
        assert isinstance(found.sentence, str) and found.sentence


def test_only_the_first_300_characters_of_a_huge_address_are_read(real_cities):
    head = "Kel. Oro-oro Dowo, Kec. Klojen, "
    huge = head + "x" * (300 - len(head)) + ", Kel. Sukoharjo, Kota Probolinggo" * 100_000
    assert real_cities.find(huge).matched.code == "35.73.02.1008"


def test_control_characters_inside_a_real_address_are_only_separators(real_cities):
    found = real_cities.find("Kel.\tOro-oro\u00a0Dowo\r\nKec.\x00Klojen\x1b")
    assert found.matched.code == "35.73.02.1008"
    assert real_cities.find("Ｋｅｌ． Ｋａｕｍａｎ").matched.name == "Kauman"  # full-width forms from a phone keyboard


def test_a_point_of_interest_in_the_demo_city_is_found_by_its_name(demo_names):
    found = demo_names.find("depan RS Bhakti Husada, Siaga Selatan")
    assert (found.matched.level, found.matched.name, found.matched.code) == ("poi", "RS Bhakti Husada", "demo-rs-bhakti")
    assert (found.lat, found.lon, found.accuracy_m) == (-7.9905, 112.648, POI_ACCURACY_M)
    assert "RS Bhakti Husada (Kelurahan Mulyoagung, Kecamatan Siaga Selatan, Kota Siaga (demo))" in found.sentence
    assert demo_names.find("Rumah Sakit Umum Daerah Kota Siaga").matched.name == "RSUD Kota Siaga"
    assert demo_names.find("sebelah BPBD Kota Siaga").matched.name == "Kantor BPBD Kota Siaga"
    assert demo_names.find("Puskesmas Tegalrejo").matched.level == "poi"


def test_the_demo_city_is_placed_by_kelurahan_kecamatan_and_kota(demo_names, session, runtime):
    kelurahan = demo_names.find("Jl. Melati 2, Kel. Kebonsari, Kec. Siaga Utara")
    assert (kelurahan.matched.code, kelurahan.lat, kelurahan.lon) == ("99.71.01.1002", pytest.approx(-7.97), pytest.approx(112.645))
    kecamatan = demo_names.find("Kecamatan Siaga Selatan")
    assert kecamatan.matched.code == "99.71.02"
    assert route(runtime, session, "fire", kecamatan.lat, kecamatan.lon)["jurisdiction"]["kecamatan"] == "Siaga Selatan"
    kota = demo_names.find("Kota Siaga")
    assert (kota.matched.level, kota.matched.name) == ("kota", "Kota Siaga (demo)")


def test_the_names_are_read_again_only_when_the_places_change(session, runtime, demo_city, tmp_path):
    assert geocode(runtime, session, "Kel. Mawar, Kec. Siaga Utara").matched.level == "kecamatan"
    names = geocoder_for(runtime).gazetteer
    geocode(runtime, session, "Kebonsari")
    assert geocoder_for(runtime).gazetteer is names
    boundary = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"kode": "99.71.01.1003", "nama": "Mawar", "kode_kecamatan": "99.71.01", "nama_kecamatan": "Siaga Utara"},
        "geometry": {"type": "Polygon", "coordinates": [[[112.60, -7.96], [112.62, -7.96], [112.62, -7.95],
                                                         [112.60, -7.95], [112.60, -7.96]]]}}]}
    (tmp_path / "mawar.geojson").write_text(json.dumps(boundary))
    import_boundaries(session, tmp_path / "mawar.geojson", "kelurahan")
    session.commit()
    found = geocode(runtime, session, "Kel. Mawar, Kec. Siaga Utara")
    assert (found.matched.code, found.lat, found.lon) == ("99.71.01.1003", pytest.approx(-7.955), pytest.approx(112.61))
    poi = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"id": "demo-pkm-mawar", "kind": "puskesmas", "name": "Puskesmas Mawar"},
        "geometry": {"type": "Point", "coordinates": [112.605, -7.955]}}]}
    (tmp_path / "pois.geojson").write_text(json.dumps(poi))
    import_pois(session, tmp_path / "pois.geojson")
    session.commit()
    assert geocode(runtime, session, "Puskesmas Mawar").matched.code == "demo-pkm-mawar"

