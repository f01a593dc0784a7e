"""The app's SOS: always taken, located when it can be, top of the alarm list, marked when blocked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from routing.reporters import get_or_create
from siaga112.models import Alarm, Event
from tests.support.alarm_helpers import count_alarms

MALANG = {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12}


def sos(client, headers, **body):
    payload = {"reporter": {"phone": "0812-3456-7890", "name": "Sari"}, "location": MALANG, **body}
    return client.post("/api/v1/sos", json=payload, headers=headers)


def test_an_sos_is_stored_routed_and_returned_with_201(client, make_token):
    response = sos(client, make_token("alarms:write"), kind="medical", message="Ibu pingsan")
    assert response.status_code == 201
    alarm = response.get_json()
    assert (alarm["source"], alarm["kind"], alarm["state"], alarm["priority"]) == ("sos", "medical", "open", 9)
    assert alarm["reporter"]["phone"] == "+6281234567890"
    assert alarm["location"] == {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12.0}
    assert "psc119" in [a["code"] for a in alarm["routing"]["agencies"]]
    assert alarm["received_at"].endswith("Z")


def test_an_sos_is_announced_to_consoles(client, make_token, database):
    alarm_id = sos(client, make_token("alarms:write")).get_json()["id"]
    with database.session() as session:
        event = session.scalar(select(Event).where(Event.kind == "alarm.new"))
        assert event.payload["id"] == alarm_id


def test_an_sos_goes_to_the_top_of_the_open_alarm_list(client, make_token, database):
    headers = make_token("alarms:write")
    with database.session() as session:
        session.add(Alarm(source="panel", kind="fire", priority=7, state="open"))
    sos_id = sos(client, headers).get_json()["id"]
    listed = client.get("/api/v1/alarms?state=open", headers=make_token("alarms:read")).get_json()["alarms"]
    assert [a["id"] for a in listed][0] == sos_id


@pytest.mark.parametrize("location, warning", [
    ({"lat": 0, "lon": 0}, "0, 0"),
    ({"lat": 91, "lon": 112.6}, "Latitude 91"),
    ({"lat": "abc", "lon": 112.6}, "numbers"),
    (None, "No position"),
])
def test_an_sos_with_impossible_coordinates_is_kept_unlocated_with_the_reason(client, make_token, location, warning):
    response = sos(client, make_token("alarms:write"), location=location)
    assert response.status_code == 201
    alarm = response.get_json()
    assert alarm["location"] is None
    assert warning in alarm["flags"]["location_warning"]
    assert alarm["priority"] == 9


def test_an_sos_with_nan_coordinates_in_the_json_is_kept_unlocated(client, make_token):
    body = b'{"reporter": {"phone": "+6281234567890"}, "location": {"lat": NaN, "lon": 112.6}}'
    response = client.post("/api/v1/sos", data=body, content_type="application/json",
                           headers=make_token("alarms:write"))
    assert response.status_code == 201
    assert response.get_json()["location"] is None


@pytest.mark.parametrize("body, code", [
    (b"{not json", "invalid_json"),
    (b'{"location": {"lat": -7.9, "lon": 112.6}}', "missing_reporter"),
    (b'{"reporter": {"name": "Sari"}}', "invalid_phone"),
    (b'{"reporter": {"phone": "call me"}}', "invalid_phone"),
])
def test_an_sos_without_a_readable_body_or_phone_is_refused_with_400_and_not_stored(client, make_token, database,
                                                                                     body, code):
    response = client.post("/api/v1/sos", data=body, content_type="application/json",
                           headers=make_token("alarms:write"))
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, code)
    assert count_alarms(database) == 0


def test_a_blocked_reporters_sos_is_taken_marked_and_lowered(client, make_token, database):
    with database.session() as session:
        reporter = get_or_create(session, "+6281234567890")
        reporter.blocked, reporter.strikes = True, 3
    response = sos(client, make_token("alarms:write"))
    assert response.status_code == 201
    alarm = response.get_json()
    assert alarm["flags"]["reporter_blocked"] is True
    assert alarm["priority"] < 9
    assert alarm["reporter"]["blocked"] is True


def test_an_sos_resent_with_the_same_idempotency_key_is_stored_once(client, make_token, database):
    headers = {**make_token("alarms:write"), "Idempotency-Key": "app-7f3a"}
    first = sos(client, headers)
    again = sos(client, headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert count_alarms(database) == 1


@pytest.mark.parametrize("scopes, status", [(("calls:read",), 403), (("alarms:write",), 201)])
def test_only_clients_allowed_to_write_alarms_may_send_an_sos(client, make_token, scopes, status):
    assert sos(client, make_token(*scopes)).status_code == status


def test_an_sos_without_credentials_is_refused_and_not_stored(client, database):
    assert sos(client, {}).status_code in (400, 401)  # no token and no console session
    assert count_alarms(database) == 0


def test_an_oversized_body_is_refused_with_413(client, make_token):
    body = b'{"message": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = client.post("/api/v1/sos", data=body, content_type="application/json",
                           headers=make_token("alarms:write"))
    assert response.status_code == 413
