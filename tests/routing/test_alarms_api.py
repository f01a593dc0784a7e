"""The console's alarm list and handling: order, reading, acknowledging, closing, texting back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routing.alarms.supervision import raise_offline
from routing.alarms.dc09 import build_frame
from siaga112.db import utcnow
from siaga112.models import Alarm, AlarmSite, Reporter
from tests.support.alarm_helpers import Panel, add_site


def add_alarm(database, **fields) -> int:
    values = {"source": "sos", "kind": "sos", "priority": 5, "state": "open", **fields}
    with database.session() as session:
        alarm = Alarm(**values)
        session.add(alarm)
        session.flush()
        return alarm.id


def test_the_list_puts_the_most_urgent_first_then_the_newest(client, make_token, database):
    now = utcnow()
    old_top = add_alarm(database, priority=9, received_at=now - timedelta(minutes=5))
    new_top = add_alarm(database, priority=9, received_at=now)
    low = add_alarm(database, priority=4, received_at=now + timedelta(seconds=1))
    add_alarm(database, priority=9, state="closed")
    listed = client.get("/api/v1/alarms?state=open", headers=make_token("alarms:read")).get_json()["alarms"]
    assert [a["id"] for a in listed] == [new_top, old_top, low]


def test_an_alarm_has_the_contract_fields(client, make_token, database):
    alarm_id = add_alarm(database, lat=-7.98, lon=112.63, accuracy_m=10.0)
    alarm = client.get(f"/api/v1/alarms/{alarm_id}", headers=make_token("alarms:read")).get_json()
    for name in ("id", "source", "kind", "state", "priority", "received_at", "location", "routing", "incident_id"):
        assert name in alarm
    assert alarm["location"] == {"lat": -7.98, "lon": 112.63, "accuracy_m": 10.0}


def test_an_alarm_is_acknowledged_then_closed_by_the_console(client, make_token, database):
    headers = make_token("alarms:handle")
    alarm_id = add_alarm(database)
    acknowledged = client.patch(f"/api/v1/alarms/{alarm_id}", json={"state": "acknowledged"}, headers=headers)
    assert acknowledged.get_json()["state"] == "acknowledged"
    assert acknowledged.get_json()["acknowledged_by"].startswith("token:")
    closed = client.patch(f"/api/v1/alarms/{alarm_id}", json={"state": "closed", "note": "Unit on site"},
                          headers=headers)
    assert (closed.get_json()["state"], closed.get_json()["note"]) == ("closed", "Unit on site")
    reopened = client.patch(f"/api/v1/alarms/{alarm_id}", json={"state": "open"}, headers=headers)
    assert reopened.status_code == 409


@pytest.mark.parametrize("scopes, read, write", [
    (("calls:read",), 403, 403), (("alarms:write",), 200, 403), (("alarms:read",), 200, 403),
    (("alarms:handle",), 403, 200),
])
def test_reading_and_changing_alarms_need_the_alarm_scopes(client, make_token, database, scopes, read, write):
    headers = make_token(*scopes)
    alarm_id = add_alarm(database)
    assert client.get("/api/v1/alarms", headers=headers).status_code == read
    assert client.patch(f"/api/v1/alarms/{alarm_id}", json={"state": "acknowledged"},
                        headers=headers).status_code == write


def test_bad_filters_and_unknown_alarms_are_said_plainly(client, make_token):
    headers = make_token("alarms:read")
    assert client.get("/api/v1/alarms?state=burning", headers=headers).get_json()["error"]["code"] == "invalid_state"
    assert client.get("/api/v1/alarms/999", headers=headers).status_code == 404


def test_a_silent_panel_raises_panel_offline_and_its_next_report_clears_it(runtime, database, receiver):
    site_id = add_site(database, account="1234", interval_s=60)
    with database.session() as session:
        session.get(AlarmSite, site_id).last_seen_at = utcnow() - timedelta(seconds=200)
    with database.session() as session:
        raised = raise_offline(session, runtime)
        assert [a.kind for a in raised] == ["panel_offline"]
    with database.session() as session:
        assert raise_offline(session, runtime) == []  # one alarm per silence
        assert session.get(AlarmSite, site_id).offline is True
    with Panel(receiver.port) as panel:
        assert panel.send(build_frame("1234", "", sequence=0, message_type="NULL")) == "ACK"
    with database.session() as session:
        offline_alarm = session.get(Alarm, raised[0].id)
        assert (offline_alarm.state, offline_alarm.closed_by) == ("closed", "supervision")
        assert session.get(AlarmSite, site_id).offline is False


def test_a_panel_within_its_interval_and_grace_is_not_offline(runtime, database):
    site_id = add_site(database, account="1234", interval_s=60)
    with database.session() as session:
        session.get(AlarmSite, site_id).last_seen_at = utcnow() - timedelta(seconds=100)  # 60 + 60 grace
        assert raise_offline(session, runtime) == []


def test_the_console_texts_a_question_to_the_reporter_through_twilio(client, make_token, database, twilio_recorder):
    with database.session() as session:
        reporter = Reporter(phone="+6281234567890", points=0, strikes=0, blocked=False)
        session.add(reporter)
        session.flush()
        reporter_id = reporter.id
    alarm_id = add_alarm(database, source="sms", kind="text", reporter_id=reporter_id)
    response = client.post(f"/api/v1/alarms/{alarm_id}/reply", json={"message": "Di mana posisi Anda?"},
                           headers=make_token("alarms:handle"))
    assert response.status_code == 201
    assert twilio_recorder.messages == [{"To": "+6281234567890", "From": "+15005550006",
                                         "Body": "Di mana posisi Anda?"}]
    messages = client.get(f"/api/v1/alarms/{alarm_id}", headers=make_token("alarms:read")).get_json()["messages"]
    assert [(m["direction"], m["status"]) for m in messages] == [("out", "sent")]


def test_a_reply_twilio_refuses_is_kept_as_failed_and_said(client, make_token, database, twilio_recorder):
    with database.session() as session:
        reporter = Reporter(phone="+6281234567891", points=0, strikes=0, blocked=False)
        session.add(reporter)
        session.flush()
        reporter_id = reporter.id
    alarm_id = add_alarm(database, reporter_id=reporter_id)
    twilio_recorder.fail_next(1, status=500)
    response = client.post(f"/api/v1/alarms/{alarm_id}/reply", json={"message": "Halo?"},
                           headers=make_token("alarms:handle"))
    assert (response.status_code, response.get_json()["error"]["code"]) == (502, "sms_failed")
    messages = client.get(f"/api/v1/alarms/{alarm_id}", headers=make_token("alarms:read")).get_json()["messages"]
    assert [m["status"] for m in messages] == ["failed"]


def test_button_add_registers_an_encrypted_panel_and_a_signed_button(cli_runner, database):
    result = cli_runner.invoke(["button", "add", "--account", "1a2b", "--site", "Toko Emas Sukun",
                                "--lat", "-7.99", "--lon", "112.62", "--key", "AAAAAAAAAAAAAAAA",
                                "--secret", "0123456789abcdef", "--device", "btn-emas-1", "--interval", "300"])
    assert result.exit_code == 0, result.output
    assert "account 1A2B (encrypted)" in result.output
    with database.session() as session:
        site = session.query(AlarmSite).one()
        assert (site.account, site.device_id, site.supervision_interval_s) == ("1A2B", "btn-emas-1", 300)


@pytest.mark.parametrize("arguments, message", [
    (["--account", "XYZ!", "--lat", "-7.9", "--lon", "112.6"], "hexadecimal"),
    (["--account", "1234", "--lat", "0", "--lon", "0"], "0, 0"),
    (["--account", "1234", "--lat", "-7.9", "--lon", "112.6", "--key", "short"], "AES key"),
    (["--device", "btn-1", "--lat", "-7.9", "--lon", "112.6"], "secret"),
    (["--lat", "-7.9", "--lon", "112.6"], "account"),
])
def test_button_add_refuses_bad_input_with_a_sentence(cli_runner, database, arguments, message):
    result = cli_runner.invoke(["button", "add", "--site", "Bank", *arguments])
    assert result.exit_code != 0 and message in result.output
    with database.session() as session:
        assert session.query(AlarmSite).count() == 0
