"""The engine: the same answers as a linear scan, cheap unit moves, stale units, plain warnings."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
import yaml

from routing.engine import RoutingEngine, UnknownCategory
from routing.geo import haversine_m, validate_point
from routing.places import Place, PointIndex
from routing.rules import RulesError, load_rules, parse_rules
from routing import unit_index
from routing.unit_index import UnitState

RULES_FILE = Path(__file__).resolve().parents[2] / "config" / "routing_rules.yaml"
KINDS = {"police": ["patrol", "motorcycle"], "damkar": ["fire_engine", "rescue"], "psc119": ["ambulance"],
         "bpbd": ["rescue", "truck"], "satlantas": ["patrol", "motorcycle"]}
STATUSES = ["available"] * 6 + ["dispatched", "on_scene", "off_duty"]
CENTER = (-7.98, 112.63)


def _random_unit(rng: random.Random, unit_id: int, now: float) -> UnitState:
    agency = rng.choice(list(KINDS))
    return UnitState(
        id=unit_id, callsign=f"U{unit_id:05d}", agency=agency, kind=rng.choice(KINDS[agency]),
        status=rng.choice(STATUSES), lat=CENTER[0] + rng.uniform(-0.3, 0.3), lon=CENTER[1] + rng.uniform(-0.3, 0.3),
        # some positions older than the 300 s stale limit, some stationed posts that never age
        position_at=now - rng.uniform(0, 400), source=rng.choice(["gps"] * 4 + ["post"]))


@pytest.fixture
def engine():
    return RoutingEngine(load_rules(RULES_FILE), unit_speed_kmh=40, unit_stale_seconds=300)


def _decisions_agree(engine, rng, now, rounds=150):
    for _ in range(rounds):
        category = rng.choice(["fire", "medical", "crime", "traffic_accident", "flood"])
        lat, lon = CENTER[0] + rng.uniform(-0.35, 0.35), CENTER[1] + rng.uniform(-0.35, 0.35)
        fast = engine.decide(category, lat, lon, now=now)
        slow = engine.decide(category, lat, lon, now=now, linear=True)
        assert fast == slow


@pytest.mark.parametrize("count, background", [(300, False), (3000, False), (3000, True)],
                         ids=["small", "large", "large-rebuilt-in-background"])
def test_tree_answers_equal_a_linear_scan_on_random_units_as_they_move_and_change_status(
        engine, count, background, monkeypatch):
    # A big table's tree is rebuilt in a thread while decisions go on with the old one (forced
    # here at 3,000 units, and each background build slowed down so that decisions and moves
    # happen while it runs).
    rng = random.Random(4)
    now = time.time()
    units = [_random_unit(rng, i, now) for i in range(count)]
    engine.units.load(units)
    if background:
        engine.units.background_rebuild_over = 0
        built_in_place = unit_index._Snapshot

        def slow_in_background(members):
            if threading.current_thread() is not threading.main_thread():
                time.sleep(0.05)
            return built_in_place(members)

        monkeypatch.setattr(unit_index, "_Snapshot", slow_in_background)
    engine.hospitals = PointIndex([Place(i, "hospital", f"RS {i}", CENTER[0] + rng.uniform(-0.3, 0.3),
                                         CENTER[1] + rng.uniform(-0.3, 0.3)) for i in range(300)])
    engine.cameras = PointIndex([Place(i, "camera", f"CCTV {i}", CENTER[0] + rng.uniform(-0.3, 0.3),
                                       CENTER[1] + rng.uniform(-0.3, 0.3)) for i in range(500)])
    _decisions_agree(engine, rng, now)
    # Units move and change status between decisions; some trees rebuild, others answer with a dirty set.
    for round_ in range(6):
        for _ in range(rng.choice([5, 40, 400])):
            engine.take_unit_state(_random_unit(rng, rng.randrange(count), now))
        _decisions_agree(engine, rng, now, rounds=40)
    deadline = time.monotonic() + 10
    while engine.units.rebuilds < 2 and time.monotonic() < deadline:  # the first build, then a rebuild
        time.sleep(0.01)
    assert engine.units.rebuilds >= 2
    _decisions_agree(engine, rng, now, rounds=40)


def test_a_handful_of_units_fewer_than_a_query_asks_for_are_ranked_as_a_linear_scan_ranks_them(engine):
    # Twelve units over thirteen agencies: most groups hold one unit or none, and every tree
    # query asks for more points than the group, often more than the whole tree, holds.
    rng = random.Random(9)
    now = time.time()
    engine.units.load([_random_unit(rng, i, now) for i in range(12)])
    _decisions_agree(engine, rng, now)
    for _ in range(20):
        engine.take_unit_state(_random_unit(rng, rng.randrange(12), now))
    _decisions_agree(engine, rng, now, rounds=40)


def _truth(units, lat, lon, k, now):
    """The nearest k by the definition itself: every eligible unit, by distance, then call sign."""
    return sorted((u for u in units if u.eligible(now, 300)), key=lambda u: (haversine_m(lat, lon, u.lat, u.lon), u.callsign))[:k]


@pytest.mark.parametrize("count", [200, 3000])
def test_units_sharing_a_post_are_ranked_by_call_sign_on_both_paths(engine, count):
    rng = random.Random(7)
    now = time.time()
    units = [_random_unit(rng, i, now) for i in range(count)]
    # Twelve fire engines and twelve patrols stationed at the same two posts: far more ties than spare candidates.
    post = (CENTER[0] + 0.01, CENTER[1] - 0.01)
    for i in rng.sample(range(1, 100), 24):
        agency, kind = ("damkar", "fire_engine") if i % 2 else ("police", "patrol")
        units.append(UnitState(count + i, f"POST-{i:03d}", agency, kind, "available", *post, now - 86400, source="post"))
    engine.units.load(units)
    engine.cameras = PointIndex([Place(i, "camera", f"CCTV Simpang {i:02d}", *post) for i in rng.sample(range(40), 9)]
                                + [Place(100 + i, "camera", f"CCTV {i}", CENTER[0] + rng.uniform(-0.1, 0.1),
                                         CENTER[1] + rng.uniform(-0.1, 0.1)) for i in range(200)])
    for lat, lon in [post, (post[0] + 0.002, post[1] - 0.003), (post[0] - 0.05, post[1] + 0.04), (-6.2, 106.8)]:
        fast = engine.decide("fire", lat, lon, now=now)
        assert fast == engine.decide("fire", lat, lon, now=now, linear=True)
        engines = [u for u in units if (u.agency, u.kind) == ("damkar", "fire_engine")]
        assert [u["callsign"] for u in fast["recommended_units"] if u["agency"] == "damkar"] == [
            u.callsign for u in _truth(engines, lat, lon, 2, now)]
        if (lat, lon) == post:
            assert [c["name"] for c in fast["cameras"]] == sorted(c.name for c in engine.cameras.places
                                                                  if (c.lat, c.lon) == post)[:3]


def test_a_moved_unit_is_found_at_its_new_place_before_any_rebuild(engine):
    now = time.time()
    engine.units.load([UnitState(i, f"AMB-{i}", "psc119", "ambulance", "available", -7.9 - i * 0.01, 112.6, now)
                       for i in range(1, 200)])
    assert engine.decide("medical", -7.9, 112.6, now=now)["recommended_units"][0]["callsign"] == "AMB-1"
    rebuilds = engine.units.rebuilds
    engine.take_unit_state(UnitState(150, "AMB-150", "psc119", "ambulance", "available", -8.2, 112.9, now))
    engine.take_unit_state(UnitState(150, "AMB-150", "psc119", "ambulance", "available", -7.9001, 112.6, now))
    assert engine.decide("medical", -7.9, 112.6, now=now)["recommended_units"][0]["callsign"] == "AMB-150"
    assert engine.units.rebuilds == rebuilds  # two moves do not rebuild a 199-unit tree


def test_a_dispatched_unit_is_no_longer_recommended(engine):
    now = time.time()
    engine.units.load([UnitState(1, "DAMKAR-1", "damkar", "fire_engine", "available", -7.98, 112.63, now),
                       UnitState(2, "DAMKAR-2", "damkar", "fire_engine", "available", -7.99, 112.63, now)])
    assert [u["callsign"] for u in engine.decide("fire", -7.98, 112.63, now=now)["recommended_units"][:2]] == ["DAMKAR-1", "DAMKAR-2"]
    engine.take_unit_state(UnitState(1, "DAMKAR-1", "damkar", "fire_engine", "dispatched", -7.98, 112.63, now))
    assert [u["callsign"] for u in engine.decide("fire", -7.98, 112.63, now=now)["recommended_units"]] == ["DAMKAR-2"]


def test_a_unit_silent_past_the_stale_limit_is_not_recommended_but_a_stationed_one_is(engine):
    now = time.time()
    engine.units.load([
        UnitState(1, "POL-SILENT", "police", "patrol", "available", -7.98, 112.63, now - 301),
        UnitState(2, "POL-POST", "police", "patrol", "available", -7.99, 112.63, now - 86400, source="post"),
        UnitState(3, "POL-LIVE", "police", "patrol", "available", -8.00, 112.63, now - 10),
    ])
    callsigns = [u["callsign"] for u in engine.decide("crime", -7.98, 112.63, now=now)["recommended_units"]]
    assert callsigns == ["POL-POST", "POL-LIVE"]


def test_eta_follows_the_configured_speed(engine):
    now = time.time()
    engine.units.load([UnitState(1, "AMB-1", "psc119", "ambulance", "available", -7.98, 112.63, now)])
    unit = engine.decide("medical", -7.98 + 0.09, 112.63, now=now)["recommended_units"][0]
    assert unit["distance_m"] == pytest.approx(10_007, rel=0.002)  # 0.09 degrees of latitude
    assert unit["eta_s"] == pytest.approx(10_007 / (40 / 3.6), abs=2)


@pytest.mark.parametrize("lat, lon, words", [
    (0, 0, "0, 0"),
    (float("nan"), 112.6, "NaN"),
    (-97.0, 112.6, "Latitude -97 is out of range"),
    (-7.98, 212.6, "Longitude 212.6 is out of range"),
    ("south", "east", "must be numbers"),
    (None, None, "No location is known"),
])
def test_an_impossible_location_is_said_plainly_and_the_decision_still_names_the_agencies(engine, lat, lon, words):
    decision = engine.decide("fire", lat, lon)
    assert any(words in warning for warning in decision["warnings"])
    assert [a["code"] for a in decision["agencies"]] == ["damkar", "police"]
    assert decision["location"] is None and decision["recommended_units"] == []


def test_a_panic_alarm_means_crime_at_top_priority_and_an_ivr_choice_maps_to_its_category(engine):
    panic = engine.decide("panic", -7.98, 112.63)
    assert (panic["category"], panic["priority"]) == ("crime", 9)
    assert "from 'panic'" in panic["explanation"]
    assert engine.decide("police", -7.98, 112.63)["category"] == "crime"
    assert engine.decide("disaster", -7.98, 112.63)["agencies"][0]["code"] == "bpbd"


@pytest.mark.parametrize("category, agencies", [
    ("crime", ["police"]),
    ("fire", ["damkar", "police"]),
    ("medical", ["psc119"]),
    ("traffic_accident", ["satlantas", "psc119", "dishub"]),
    ("flood", ["bpbd", "tni", "police"]),
    ("landslide", ["bpbd", "tni", "police"]),
    ("earthquake", ["bpbd", "tni", "police"]),
    ("domestic_violence", ["police_ppa", "dp3a"]),
    ("public_order", ["satpolpp"]),
    ("fallen_tree", ["dlh", "bpbd"]),
    ("power_outage", ["pln"]),
    ("road_damage", ["pupr"]),
])
def test_the_shipped_rules_send_the_agencies_the_command_center_expects(engine, category, agencies):
    assert [a["code"] for a in engine.decide(category, -7.98, 112.63)["agencies"]] == agencies


def test_an_unknown_category_lists_the_valid_ones(engine):
    with pytest.raises(UnknownCategory) as caught:
        engine.decide("alien_landing", -7.98, 112.63)
    assert "fallen_tree" in str(caught.value) and "panic" in caught.value.valid


def test_validate_point_accepts_real_positions_and_refuses_null_island():
    assert validate_point("-7.98", 112.63) == (-7.98, 112.63)
    with pytest.raises(ValueError, match="0, 0"):
        validate_point(0.0, 0.0)
    with pytest.raises(ValueError, match="infinity"):
        validate_point(float("inf"), 1)
    with pytest.raises(ValueError, match="numbers"):
        validate_point(True, 1)


def _shipped():
    return yaml.safe_load(RULES_FILE.read_text())


@pytest.mark.parametrize("break_it, words", [
    (lambda d: d["categories"]["fire"]["respond"].append({"agency": "pemadam"}), "categories.fire.respond[2]: agency 'pemadam'"),
    (lambda d: d["categories"]["fire"].update(priority=11), "categories.fire.priority"),
    (lambda d: d["categories"]["medical"]["respond"][0].update(kinds=["fire_engine"]), "not among psc119's unit_kinds"),
    (lambda d: d["agencies"]["pln"].update(sms_number=6281), "E.164"),
    (lambda d: d["aliases"].update(fire={"category": "fire"}), "aliases.fire: is a category already"),
    (lambda d: d["categories"]["crime"].update(agencies=["police"]), "unknown key agencies"),
])
def test_a_mistake_in_the_rules_is_refused_with_where_it_is(break_it, words):
    data = _shipped()
    break_it(data)
    with pytest.raises(RulesError, match=None) as caught:
        parse_rules(data)
    assert words in str(caught.value)


def test_rules_that_are_not_yaml_are_refused_with_the_line(tmp_path):
    broken = tmp_path / "rules.yaml"
    broken.write_text("agencies:\n  police: [unclosed\n")
    with pytest.raises(RulesError, match="not valid YAML at line"):
        load_rules(broken)
