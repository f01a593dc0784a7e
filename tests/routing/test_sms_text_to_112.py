"""Text-to-112: a signed Twilio webhook becomes an alarm, located if the text says where, answered by TwiML."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from routing.reporters import get_or_create
from siaga112.models import Alarm, AlarmMessage
from tests.support.alarm_helpers import count_alarms
from tests.support.routing_data import load_real_cities

AUTH_TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://siaga112.example.id"


@pytest.fixture
def twilio_settings(runtime):
    runtime.settings.twilio_auth_token = AUTH_TOKEN
    runtime.settings.public_base_url = PUBLIC
    return runtime.settings


def text(client, body: str, sender: str = "+6281298765432", sid: str = "SM0001", signature: str | None = None,
         path: str = "/twilio/sms"):
    form = {"From": sender, "To": "112", "Body": body, "MessageSid": sid, "AccountSid": "AC" + "0" * 32}
    if signature is None:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=urlencode(form), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def test_a_text_becomes_an_alarm_and_the_sender_is_told_help_is_coming(client, twilio_settings, database):
    response = text(client, "Tolong, ada perampokan, saya tidak bisa bicara")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert "<Response><Message>112:" in response.get_data(as_text=True)
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert (alarm.source, alarm.kind, alarm.state) == ("sms", "text", "open")
        assert alarm.message == "Tolong, ada perampokan, saya tidak bisa bicara"
        assert alarm.lat is None and "location_warning" in alarm.flags


def test_coordinates_in_the_text_locate_the_alarm(client, twilio_settings, database):
    text(client, "Kecelakaan di -7.9666, 112.6326 tolong")
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert (alarm.lat, alarm.lon, alarm.flags["located_by"]) == (-7.9666, 112.6326, "coordinates in the text")


def test_a_known_kelurahan_named_in_the_text_locates_the_alarm(client, twilio_settings, database):
    with database.session() as session:
        load_real_cities(session, "malang")
    text(client, "Ada kebakaran dekat pasar Polowijen")
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert alarm.lat == pytest.approx(-7.93, abs=0.03) and alarm.lon == pytest.approx(112.65, abs=0.03)
        assert alarm.flags["located_by"] == "kelurahan Polowijen named in the text"


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_a_request_not_signed_by_our_twilio_account_is_refused_with_403(client, twilio_settings, database, signature):
    response = text(client, "Tolong", signature=signature)
    assert response.status_code == 403
    assert count_alarms(database) == 0


def test_a_signature_for_another_address_is_refused(client, twilio_settings, database):
    form = {"From": "+6281298765432", "Body": "Tolong", "MessageSid": "SM9"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature("https://evil.example/twilio/sms", form)
    response = client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_without_twilio_settings_every_request_is_refused(client, database):
    assert text(client, "Tolong").status_code == 403
    assert count_alarms(database) == 0


def test_a_retried_webhook_is_stored_once(client, twilio_settings, database):
    text(client, "Tolong", sid="SM42")
    text(client, "Tolong", sid="SM42")
    assert count_alarms(database) == 1


def test_further_texts_join_the_open_alarm_as_a_conversation(client, twilio_settings, database):
    text(client, "Saya disekap", sid="SM1")
    response = text(client, "Di rumah dekat -7.9797, 112.6304", sid="SM2")
    assert "tambahan" in response.get_data(as_text=True)
    assert count_alarms(database) == 1
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert (alarm.lat, alarm.lon) == (-7.9797, 112.6304)
        bodies = session.scalars(select(AlarmMessage.body).order_by(AlarmMessage.id)).all()
        assert bodies == ["Saya disekap", "Di rumah dekat -7.9797, 112.6304"]


def test_a_blocked_reporters_text_is_still_taken_but_marked_and_lowered(client, twilio_settings, database):
    with database.session() as session:
        get_or_create(session, "+6281298765432").blocked = True
    assert text(client, "Tolong").status_code == 200
    with database.session() as session:
        alarm = session.scalar(select(Alarm))
        assert alarm.flags["reporter_blocked"] is True and alarm.priority < 8


def test_the_answer_is_in_english_when_the_center_speaks_english(client, twilio_settings):
    twilio_settings.language = "en"
    assert "Help is being arranged" in text(client, "Help").get_data(as_text=True)
