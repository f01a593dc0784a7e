"""Dispatch once per unit and incident, reassign as an explicit choice, notes apart from status, unit
reports on the incident, SMS that stop with the incident (issue 16, findings 3-5 and 10)."""

from __future__ import annotations

import pytest

from routing import notify
from siaga112.db import utcnow
from siaga112.models.incidents import Notification
from tests.support.routing_data import demo_city  # noqa: F401 - fixture

SPOT = {"lat": -7.9705, "lon": 112.6450}


@pytest.fixture
def writer(make_token):
    return make_token("incidents:write")


def _incident(client, headers, **body) -> dict:
    body.setdefault("category", "fire")
    body.setdefault("location", SPOT)
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _dispatch(client, headers, incident_id, units, **extra):
    return client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"units": units, **extra}, headers=headers)


def test_sending_the_same_unit_again_changes_nothing_and_texts_no_one_twice(client, writer, demo_city, database):  # noqa: F811
    incident = _incident(client, writer)
    assert _dispatch(client, writer, incident["id"], ["DAMKAR-02"]).status_code == 200
    with database.session() as session:
        texts = session.query(Notification).count()
    again = _dispatch(client, writer, incident["id"], ["damkar-02"]).get_json()
    assert [u["callsign"] for u in again["units"]] == ["DAMKAR-02"]
    assert sum(1 for step in again["history"] if (step["detail"] or {}).get("units")) == 1
    with database.session() as session:
        assert session.query(Notification).count() == texts


def test_a_busy_unit_is_named_and_reassigning_it_is_written_on_both_incidents(client, writer, demo_city):  # noqa: F811
    first = _incident(client, writer)["id"]
    second = _incident(client, writer)["id"]
    _dispatch(client, writer, first, ["DAMKAR-02"])
    refused = _dispatch(client, writer, second, ["DAMKAR-02"])
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert (error["code"], error["unit"], error["incident"]) == ("unit_busy", "DAMKAR-02", first)
    moved = _dispatch(client, writer, second, ["DAMKAR-02"], reassign=True).get_json()
    assert [u["callsign"] for u in moved["units"]] == ["DAMKAR-02"]
    left = client.get(f"/api/v1/incidents/{first}", headers=writer).get_json()
    assert left["units"][0]["released_at"]
    assert left["history"][-1]["detail"]["event"] == {"id": "history.reassigned",
                                                      "params": {"unit": "DAMKAR-02", "incident": second}}


def test_a_note_leaves_the_status_alone(client, writer, demo_city):  # noqa: F811
    incident = _incident(client, writer)
    noted = client.post(f"/api/v1/incidents/{incident['id']}/notes", json={"note": "Penelepon kedua: asap hitam"},
                        headers=writer)
    assert noted.status_code == 201
    body = noted.get_json()
    assert body["status"] == "new" and body["history"][-1]["note"] == "Penelepon kedua: asap hitam"
    empty = client.post(f"/api/v1/incidents/{incident['id']}/notes", json={"note": "  "}, headers=writer)
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "note_required"


def test_a_units_on_scene_report_moves_the_incident_and_is_on_its_timeline(client, writer, demo_city, make_token):  # noqa: F811
    incident = _incident(client, writer)
    _dispatch(client, writer, incident["id"], ["DAMKAR-02"])
    reported = client.put("/api/v1/units/DAMKAR-02/status", json={"status": "on_scene"}, headers=make_token("units:write"))
    assert reported.status_code == 200
    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=writer).get_json()
    assert after["status"] == "on_scene"
    step = after["history"][-1]
    assert step["actor"] == "unit:DAMKAR-02"
    assert step["detail"]["event"] == {"id": "history.unit_report.on_scene", "params": {"unit": "DAMKAR-02"}}


def test_sms_are_in_indonesian_and_stop_when_the_incident_closes(client, writer, demo_city, database, runtime):  # noqa: F811
    incident = _incident(client, writer, description="Gudang terbakar")
    _dispatch(client, writer, incident["id"], ["DAMKAR-02"])  # no Twilio account in tests: every SMS fails
    with database.session() as session:
        bodies = [n.body for n in session.query(Notification)]
        assert all(n.state == "failed" and n.next_attempt_at for n in session.query(Notification))
    assert bodies and all(b.startswith(f"SIAGA112 #{incident['id']} Kebakaran P8") and "Unit: DAMKAR-02" in b
                          for b in bodies)
    notification_id = client.get(f"/api/v1/incidents/{incident['id']}", headers=writer).get_json()["notifications"][0]["id"]
    retried = client.post(f"/api/v1/incidents/{incident['id']}/notifications/{notification_id}/retry", headers=writer)
    assert retried.status_code == 200 and retried.get_json()["attempts"] == 1
    client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": "closed"}, headers=writer)
    with database.session() as session:
        for notification in session.query(Notification):
            assert notification.next_attempt_at is None and notify.failure_kind(notification) == "stopped"
            notification.next_attempt_at = utcnow()
    assert notify.retry_due(runtime) == 0
    closed = client.post(f"/api/v1/incidents/{incident['id']}/notifications/{notification_id}/retry", headers=writer)
    assert closed.status_code == 409


@pytest.mark.parametrize("location", [{"lat": "abc", "lon": 112.6}, {"lat": -7.97, "lon": 999}, {"lat": -7.97}])
def test_a_malformed_position_is_refused_and_nothing_is_made(client, writer, demo_city, location, database):  # noqa: F811
    response = client.post("/api/v1/incidents", json={"category": "fire", "location": location}, headers=writer)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_location"
    from siaga112.models import Incident

    with database.session() as session:
        assert session.query(Incident).count() == 0
