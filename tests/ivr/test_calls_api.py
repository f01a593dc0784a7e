"""`GET /api/v1/calls` and `/calls/ID`: the queue in answer order, and exactly the contract's fields."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ivr.asterisk_peer import Caller, Channel, Press
from siaga112.db import utcnow
from sqlalchemy import select

from siaga112.models import Call, LocationFix, Recording, User
from tests.support.console_client import put_console_session

CONTRACT_FIELDS = {
    "id", "uniqueid", "caller", "caller_name", "state", "priority", "service_choice", "started_at", "queued_at",
    "answered_at", "ended_at", "agent", "location", "statement", "category_hint", "prank_suspect", "incident_id",
    # Queue first (December 2026): Asterisk's answer, and the answer time counted from it.
    "pbx_answered_at", "answer_delay_s", "queue_wait_s",
}


def add_call(database, **values) -> int:
    now = utcnow()
    defaults = dict(uniqueid=f"1.{uuid.uuid4().hex[:12]}", state="queued", priority=5, started_at=now, queued_at=now)
    with database.session() as session:
        call = Call(**{**defaults, **values})
        session.add(call)
        session.flush()
        return call.id


def test_queue_lists_highest_priority_first_then_longest_waiting(client, make_token, database):
    now = utcnow()
    newer_high = add_call(database, priority=9, queued_at=now - timedelta(seconds=5))
    older_low = add_call(database, priority=3, queued_at=now - timedelta(seconds=60))
    older_high = add_call(database, priority=9, queued_at=now - timedelta(seconds=30))
    add_call(database, state="answered", priority=20)

    response = client.get("/api/v1/calls?state=queued", headers=make_token("calls:read"))

    assert response.status_code == 200
    assert [c["id"] for c in response.get_json()["calls"]] == [older_high, newer_high, older_low]


def test_call_shows_exactly_the_contract_fields_with_location_and_statement(client, make_token, database):
    call_id = add_call(database, caller="+6281234567890", caller_name="<b>Budi</b>", service_choice="fire")
    with database.session() as session:
        session.add_all([
            LocationFix(call_id=call_id, source="cell", lat=-7.95, lon=112.61, accuracy_m=1000),
            LocationFix(call_id=call_id, source="aml", lat=-7.96, lon=112.62, accuracy_m=12),
            Recording(call_id=call_id, kind="statement", path="/r/s.wav", transcript="kebakaran", transcript_status="done"),
        ])

    body = client.get(f"/api/v1/calls/{call_id}", headers=make_token("calls:read")).get_json()

    assert set(body) == CONTRACT_FIELDS
    assert body["location"] == {"lat": -7.96, "lon": 112.62, "accuracy_m": 12.0, "source": "aml"}
    assert body["statement"]["transcript"] == "kebakaran" and body["statement"]["transcript_status"] == "done"
    assert body["caller_name"] == "<b>Budi</b>" and body["service_choice"] == "fire"
    assert body["started_at"].endswith("Z") and body["answered_at"] is None
    assert body["answer_delay_s"] is None and body["queue_wait_s"] is None


def test_call_from_the_ivr_reads_back_through_the_api(client, make_token, place_call):
    record = place_call(Channel(caller_id="081234567890"), Caller(presses=[Press("1", during="welcome")]))

    body = client.get(f"/api/v1/calls/{record.value('SIAGA_CALL_ID')}", headers=make_token("calls:read")).get_json()

    assert (body["state"], body["caller"], body["service_choice"]) == ("queued", "+6281234567890", "police")
    assert body["statement"] == {"recording_id": body["statement"]["recording_id"], "transcript": None,
                                 "transcript_status": "pending", "keywords": [], "places": []}
    assert body["location"] is None


@pytest.mark.parametrize("role", ["calltaker", "dispatcher", "supervisor", "admin"])
def test_console_users_from_calltaker_up_may_read_calls(role, client, make_user, database):
    username, _password = make_user(role)
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        put_console_session(client, user)  # a signed-in console session
    assert client.get("/api/v1/calls").status_code == 200


def test_calls_need_a_token_with_calls_read(client, make_token):
    assert client.get("/api/v1/calls").status_code == 401
    assert client.get("/api/v1/calls", headers=make_token("aml:write")).status_code == 403


def test_unknown_call_and_unknown_state_are_clear_errors(client, make_token):
    headers = make_token("calls:read")
    assert client.get("/api/v1/calls/999", headers=headers).get_json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/calls?state=lost", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_state"
