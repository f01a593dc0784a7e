"""Unlocated texts to 112 and SOS are offered the same link; its position places and routes the alarm."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from siaga112.models import Alarm, LocationLink
from tests.location_link.conftest import LINK, PUBLIC, phone_post
from tests.support.routing_data import demo_city, rules  # noqa: F401  (fixtures)

SENDER = "+6281298765432"


def text_112(client, body: str, auth_token: str, sid: str = "SM0001"):
    form = {"From": SENDER, "To": "112", "Body": body, "MessageSid": sid, "AccountSid": "AC" + "0" * 32}
    signature = RequestValidator(auth_token).compute_signature(PUBLIC + "/twilio/sms", form)
    return client.post("/twilio/sms", data=urlencode(form), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_an_unlocated_text_is_answered_with_a_link_that_places_the_alarm(app, client, database, link_settings,
                                                                         demo_city):  # noqa: F811
    from tests.console.factories import demo_point

    reply = text_112(client, "Tolong, saya diikuti orang", link_settings.twilio_auth_token).get_data(as_text=True)
    assert "Bagikan lokasi Anda lewat tautan ini" in reply
    token = LINK.search(reply).group(1)
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert alarm.lat is None
        assert session.scalar(select(LocationLink)).alarm_id == alarm.id
    phone = app.test_client()
    assert phone_post(phone, token, "/start", json={}).status_code == 200
    lat, lon = demo_point()
    assert phone_post(phone, token, "/positions", json={"lat": lat, "lon": lon, "accuracy_m": 15}).status_code == 201
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert (alarm.lat, alarm.lon, alarm.accuracy_m) == (lat, lon, 15)
        assert alarm.flags["located_by"] == "location link" and "location_warning" not in alarm.flags
        assert alarm.routing and alarm.routing.get("location")


def test_a_text_that_says_where_it_is_gets_no_link(client, database, link_settings):
    reply = text_112(client, "Kecelakaan di -7.9666, 112.6326", link_settings.twilio_auth_token).get_data(as_text=True)
    assert "/l/" not in reply
    with database.session() as session:
        assert session.scalar(select(LocationLink)) is None


def test_an_sos_without_a_position_is_texted_a_link(client, database, link_settings, make_token, twilio_recorder):
    response = client.post("/api/v1/sos", json={"reporter": {"phone": SENDER}, "location": {"lat": 0, "lon": 0}},
                           headers=make_token("alarms:write"))
    assert response.status_code == 201 and response.get_json()["location"] is None
    message = wait_for(lambda: twilio_recorder.messages)[0]
    assert message["To"] == SENDER and LINK.search(message["Body"])
    with database.session() as session:
        link = wait_for(lambda: session.scalar(select(LocationLink).where(LocationLink.send_state == "sent")))
        assert link.alarm_id == response.get_json()["id"]


def test_an_sos_with_a_position_is_texted_nothing(client, database, link_settings, make_token, twilio_recorder):
    response = client.post("/api/v1/sos",
                           json={"reporter": {"phone": SENDER}, "location": {"lat": -7.97, "lon": 112.63}},
                           headers=make_token("alarms:write"))
    assert response.status_code == 201
    with database.session() as session:
        assert session.scalar(select(LocationLink)) is None
    assert twilio_recorder.messages == []
