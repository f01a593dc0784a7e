"""No SOS, alarm, call or incident is refused or lost for its text (NUL, control characters, length).

PostgreSQL refuses NUL in text; SQLite takes it. Every test here runs on both databases.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from routing.alarms.dc09 import build_frame
from siaga112 import storable
from siaga112.models import Alarm, ButtonEvent, Event, Incident, Reporter
from tests.support.alarm_helpers import Panel, add_site, button_request, count_alarms

SECRET = "s3cret-for-button-01"
MALANG = {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12}


@pytest.mark.parametrize("field", ["name", "message", "kind", "app_user_id"])
def test_an_sos_with_a_nul_in_any_text_is_stored_with_201(client, make_token, database, field):
    body = {"reporter": {"phone": "0812-3456-7890", "name": "Budi", "app_user_id": "u-1"},
            "location": MALANG, "kind": "medical", "message": "Tolong"}
    if field in ("name", "app_user_id"):
        body["reporter"][field] += "\u0000\u0007"
    else:
        body[field] += "\u0000"
    response = client.post("/api/v1/sos", json=body, headers=make_token("alarms:write"))
    assert response.status_code == 201, response.get_json()
    assert count_alarms(database, source="sos") == 1
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        reporter = session.scalar(select(Reporter))
        assert (reporter.name, reporter.app_user_id) == ("Budi", "u-1")
        assert (alarm.kind, alarm.message) == ("medical", "Tolong")
        assert all("\x00" not in (e.payload and json.dumps(e.payload)) for e in session.scalars(select(Event)))


def test_an_sos_with_lone_surrogates_and_a_huge_message_is_stored(client, make_token, database):
    body = {"reporter": {"phone": "0812-3456-7890", "name": "Sari\ud800"}, "location": MALANG,
            "message": "x" * 50_000 + "\udfff", "kind": "k" * 500}
    response = client.post("/api/v1/sos", data=json.dumps(body), content_type="application/json",
                           headers=make_token("alarms:write"))
    assert response.status_code == 201, response.get_json()
    alarm = response.get_json()
    assert alarm["reporter"]["name"] == "Sari" and len(alarm["message"]) == 2000


def test_a_repeated_sos_with_a_nul_in_its_idempotency_key_is_stored_once(client, make_token, database):
    headers = {**make_token("alarms:write"), "Idempotency-Key": "k\u0000" + "z" * 300}
    body = {"reporter": {"phone": "0812-3456-7890"}, "location": MALANG}
    first = client.post("/api/v1/sos", json=body, headers=headers)
    again = client.post("/api/v1/sos", json=body, headers=headers)
    assert first.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert count_alarms(database, source="sos") == 1


def test_a_signed_button_event_with_a_nul_in_its_event_id_raises_its_alarm_once(client, database):
    add_site(database, device_id="btn-01", secret=SECRET)
    payload = {"device_id": "btn-01", "event_id": "evt\u0000-1", "event": "panic", "ts": int(time.time())}
    first = button_request(client, SECRET, payload)
    again = button_request(client, SECRET, payload)
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 200 and again.get_json()["repeated"] is True
    assert count_alarms(database, source="button") == 1
    with database.session() as session:
        assert session.scalar(select(ButtonEvent.event_id)) == "evt\\x00-1"
        assert session.scalar(select(Alarm.raw)) == json.dumps(payload)  # the signed body, as it came


def test_a_button_event_with_a_nul_in_its_device_id_is_an_unknown_device_not_a_500(client, database):
    add_site(database, device_id="btn-01", secret=SECRET)
    payload = {"device_id": "btn-01\u0000", "event_id": "evt-1", "event": "panic", "ts": int(time.time())}
    response = button_request(client, SECRET, payload)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_device"


def test_an_incident_description_with_a_nul_is_created(client, make_token, database):
    response = client.post("/api/v1/incidents", headers=make_token("incidents:write"), json={
        "category": "fire", "description": "Rumah\u0000 terbakar\r\n\u202easap", "location": {"lat": -7.97, "lon": 112.64}})
    assert response.status_code == 201, response.get_json()
    with database.session() as session:
        assert session.scalar(select(Incident.description)) == "Rumah terbakar\nasap"


def test_a_dc09_frame_with_a_nul_inside_a_valid_crc_is_stored_and_acked(receiver, database):
    add_site(database, account="AAA1")
    receiver.book.reload()
    frame = build_frame("AAA1", "Nri1/PA15\u0000zone", sequence=7)
    with Panel(receiver.port) as panel:
        assert panel.send(frame) == "ACK"
        assert panel.send(frame) == "ACK"  # the panel resends: stored once
    assert count_alarms(database, source="panel") == 1
    with database.session() as session:
        raw = session.scalar(select(Alarm.raw))
    assert "\\x00" in raw and "\x00" not in raw


def test_the_column_net_caps_escapes_and_finds_what_it_stored(database):
    with database.session() as session:
        session.add(Reporter(phone="+62811\u0000" + "9" * 40, name="n\u0000" * 300, points=0, strikes=0,
                             blocked=False))
    with database.session() as session:
        found = session.scalar(select(Reporter).where(Reporter.phone == "+62811\u0000" + "9" * 40))
        assert found is not None and len(found.phone) == 32 and len(found.name) == 200


def test_clean_keeps_readable_text_and_evidence_keeps_every_character():
    assert storable.clean(" Budi\x00 \x1b[1m  Santoso\u200b ", 80) == "Budi [1m Santoso"
    assert storable.clean("a\r\n\r\n\r\nb\x00", multiline=True) == "a\n\nb"
    assert storable.clean("\x00\x01") is None
    assert storable.evidence("evt\x00-\ud800") == "evt\\x00-\\ud800"
    assert storable.storable_json('["a\\u0000", "b\\\\u0000"]') == '["a\\\\x00", "b\\\\u0000"]'
