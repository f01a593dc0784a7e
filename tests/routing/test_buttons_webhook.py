"""IP panic buttons: signed events raise alarms; forged, stale, replayed or unknown ones do not."""

from __future__ import annotations

import json
import time

import pytest

from siaga112.models import AlarmSite
from tests.support.alarm_helpers import add_site, button_request, count_alarms

SECRET = "s3cret-for-button-01"
DEVICE = "btn-bank-jatim-01"


@pytest.fixture
def button(database):
    return add_site(database, device_id=DEVICE, secret=SECRET)


def event(kind="panic", event_id="evt-1", **extra):
    return {"device_id": DEVICE, "event_id": event_id, "event": kind, "ts": int(time.time()), **extra}


def test_a_signed_panic_raises_a_top_priority_alarm_at_the_site(client, button):
    response = button_request(client, SECRET, event())
    assert response.status_code == 201
    alarm = response.get_json()["alarm"]
    assert (alarm["source"], alarm["kind"], alarm["priority"]) == ("button", "panic", 9)
    assert alarm["site"]["id"] == button and alarm["location"]["lat"] == -7.9797
    assert [a["code"] for a in alarm["routing"]["agencies"]] == ["police"]


def test_a_duress_press_is_a_silent_top_priority_alarm(client, button):
    alarm = button_request(client, SECRET, event("duress")).get_json()["alarm"]
    assert (alarm["kind"], alarm["priority"], alarm["flags"]["silent"]) == ("duress", 9, True)


def test_a_repeated_event_id_gets_the_first_answer_and_no_second_alarm(client, button, database):
    first = button_request(client, SECRET, event())
    again = button_request(client, SECRET, event())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["alarm"]["id"] == first.get_json()["alarm"]["id"]
    assert again.get_json()["repeated"] is True
    assert count_alarms(database) == 1


@pytest.mark.parametrize("tamper", ["signature", "body", "secret"])
def test_a_bad_signature_is_refused_with_401_and_nothing_stored(client, button, database, tamper):
    body = json.dumps(event()).encode()
    stamp = int(time.time())
    if tamper == "signature":
        response = button_request(client, SECRET, body, timestamp=stamp, signature="sha256=" + "0" * 64)
    elif tamper == "secret":
        response = button_request(client, "another-secret-entirely", body, timestamp=stamp)
    else:
        from routing.alarms.buttons import sign

        signature = sign(SECRET, str(stamp), body)
        forged = body.replace(b"panic", b"duress")
        response = button_request(client, SECRET, forged, timestamp=stamp, signature=signature)
    assert response.status_code == 401
    assert count_alarms(database) == 0


@pytest.mark.parametrize("skew", [-305, 305, -3600])  # 5 s of margin: a loaded machine answers late
def test_a_timestamp_more_than_300_s_away_is_refused_with_401(client, button, database, skew):
    response = button_request(client, SECRET, event(), timestamp=int(time.time()) + skew)
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "stale_timestamp")
    assert count_alarms(database) == 0


def test_a_captured_request_replayed_later_is_refused(client, button, database):
    body = json.dumps(event(event_id="evt-9")).encode()
    old = int(time.time()) - 600
    from routing.alarms.buttons import sign

    response = button_request(client, SECRET, body, timestamp=old, signature=sign(SECRET, str(old), body))
    assert response.status_code == 401
    assert count_alarms(database) == 0


def test_missing_signature_headers_are_refused_with_401(client, button):
    response = client.post("/api/v1/buttons/events", json=event())
    assert response.status_code == 401


def test_an_unknown_device_is_answered_404(client, button):
    response = button_request(client, SECRET, event(device_id="btn-nobody"))
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "unknown_device")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"device_id": "btn-bank-jatim-01", "event": "panic"}',
                                  b'{"device_id": "btn-bank-jatim-01", "event_id": "e", "event": "explode"}'])
def test_malformed_events_are_refused_with_400(client, button, database, body):
    assert button_request(client, SECRET, body).status_code == 400
    assert count_alarms(database) == 0


def test_a_huge_body_is_refused_with_413(client, button):
    body = json.dumps(event(note="x" * 10_000)).encode()
    assert button_request(client, SECRET, body).status_code == 413


def test_a_heartbeat_keeps_supervision_fresh_without_an_alarm(client, button, database):
    response = button_request(client, SECRET, event("heartbeat", event_id="hb-1"))
    assert (response.status_code, response.get_json()["result"]) == (200, "seen")
    with database.session() as session:
        assert session.get(AlarmSite, button).last_seen_at is not None
    assert count_alarms(database) == 0


def test_a_cancel_is_noted_on_the_open_alarm_which_stays_open(client, button, make_token):
    alarm_id = button_request(client, SECRET, event()).get_json()["alarm"]["id"]
    response = button_request(client, SECRET, event("cancel", event_id="evt-2"))
    assert response.get_json() == {"event_id": "evt-2", "event": "cancel", "result": "cancel_noted",
                                   "alarm_id": alarm_id}
    alarm = client.get(f"/api/v1/alarms/{alarm_id}", headers=make_token("alarms:read")).get_json()
    assert alarm["state"] == "open" and "cancel_requested_at" in alarm["flags"]
