"""Field units over the API: GPS and status from their phones, the list for the console, going silent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from routing.service import engine_for, route
from routing.units import mark_stale_units
from siaga112.db import utcnow
from siaga112.models import Event, Unit
from tests.support.routing_data import add_units


@pytest.fixture
def ambulances(database, rules):  # noqa: F811
    add_units(database, rules, [("AMB-1", "psc119", "ambulance", -7.98, 112.63), ("AMB-2", "psc119", "ambulance", -7.99, 112.63)])


def _units(client, headers):
    return {u["callsign"]: u for u in client.get("/api/v1/units", headers=headers).get_json()["units"]}


def test_a_unit_reports_its_position_and_the_next_decision_uses_it(client, make_token, ambulances, runtime, session):
    phone = make_token("units:write")
    assert route(runtime, session, "medical", -7.99, 112.63)["recommended_units"][0]["callsign"] == "AMB-2"
    response = client.put("/api/v1/units/amb-1/position", json={"lat": -7.996, "lon": 112.63, "accuracy_m": 8}, headers=phone)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["position"]["source"] == "gps"
    session.expire_all()
    assert route(runtime, session, "medical", -7.997, 112.63)["recommended_units"][0]["callsign"] == "AMB-1"
    assert session.scalar(select(Event.kind).where(Event.kind == "unit.updated")) == "unit.updated"


def test_a_position_reported_by_another_process_reaches_the_engine_through_the_database(runtime, session, ambulances, database):
    engine_for(runtime).unit_sync_seconds = 0  # ask the database on every decision
    assert route(runtime, session, "medical", -7.99, 112.63)["recommended_units"][0]["callsign"] == "AMB-2"
    with database.session() as other:  # as the web process of another host would
        unit = other.scalar(select(Unit).where(Unit.callsign == "AMB-1"))
        unit.lat, unit.lon, unit.position_at, unit.position_source = -7.996, 112.63, utcnow(), "gps"
    session.expire_all()
    assert route(runtime, session, "medical", -7.997, 112.63)["recommended_units"][0]["callsign"] == "AMB-1"


@pytest.mark.parametrize("body, words", [
    ({"lat": 0, "lon": 0}, "0, 0"),
    ({"lat": 95, "lon": 112}, "Latitude 95 is out of range"),
    ({"lat": "x", "lon": 112}, "must be numbers"),
    ({"lat": -7.9, "lon": 112.6, "ts": "2999-01-01T00:00:00Z"}, "in the future"),
    ({"lat": -7.9, "lon": 112.6, "ts": "yesterday"}, "ISO 8601"),
])
def test_an_impossible_position_is_refused_with_a_sentence(client, make_token, ambulances, body, words):
    response = client.put("/api/v1/units/AMB-1/position", json=body, headers=make_token("units:write"))
    assert response.status_code == 400
    assert words in response.get_json()["error"]["message"]


def test_an_older_fix_arriving_late_does_not_move_the_unit_back(client, make_token, ambulances):
    phone = make_token("units:write")
    now = utcnow()
    client.put("/api/v1/units/AMB-1/position", json={"lat": -7.95, "lon": 112.6, "ts": now.isoformat()}, headers=phone)
    late = client.put("/api/v1/units/AMB-1/position",
                      json={"lat": -7.90, "lon": 112.6, "ts": (now - timedelta(seconds=20)).isoformat()}, headers=phone)
    assert late.status_code == 200
    assert late.get_json()["position"]["lat"] == -7.95


def test_status_changes_are_checked_and_listed(client, make_token, ambulances):
    phone = make_token("units:write")
    bad = client.put("/api/v1/units/AMB-1/status", json={"status": "lunch"}, headers=phone)
    assert bad.status_code == 400 and "available, dispatched, on_scene, off_duty" in bad.get_json()["error"]["message"]
    assert client.put("/api/v1/units/AMB-1/status", json={"status": "off_duty"}, headers=phone).status_code == 200
    assert _units(client, phone)["AMB-1"]["status"] == "off_duty"


def test_an_unknown_unit_is_a_404_that_names_it(client, make_token):
    response = client.put("/api/v1/units/NOPE-1/status", json={"status": "available"}, headers=make_token("units:write"))
    assert response.status_code == 404 and "NOPE-1" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("scopes, status", [(("incidents:write",), 403), (("calls:read",), 403), (("units:write",), 200)])
def test_only_unit_clients_may_report_positions(client, make_token, ambulances, scopes, status):
    headers = make_token(*scopes)
    response = client.put("/api/v1/units/AMB-1/position", json={"lat": -7.9, "lon": 112.6}, headers=headers)
    assert response.status_code == status


def test_a_unit_silent_past_the_limit_is_shown_as_position_unknown(client, make_token, ambulances, runtime, database, session):
    phone = make_token("units:write")
    client.put("/api/v1/units/AMB-1/position", json={"lat": -7.95, "lon": 112.6}, headers=phone)
    assert mark_stale_units(runtime) == 0
    with database.session() as other:
        other.scalar(select(Unit).where(Unit.callsign == "AMB-1")).position_at = utcnow() - timedelta(seconds=301)
    assert mark_stale_units(runtime) == 1
    assert mark_stale_units(runtime) == 0  # announced once
    listed = _units(client, phone)["AMB-1"]
    assert listed["position_known"] is False and listed["position"] is None and listed["last_position_at"]
    assert _units(client, phone)["AMB-2"]["position_known"] is True  # stationed: never stale
    session.expire_all()
    recommended = [u["callsign"] for u in route(runtime, session, "medical", -7.95, 112.6)["recommended_units"]]
    assert recommended == ["AMB-2"]
    kinds = [e.payload["callsign"] for e in session.scalars(select(Event).where(Event.kind == "unit.updated"))]
    assert kinds.count("AMB-1") == 2  # the fix, then "position unknown"
