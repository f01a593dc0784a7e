"""Scopes as narrow as their clients: the citizen app's token posts SOS and reads back only its own."""

from __future__ import annotations

import pytest

from siaga112.models import Alarm
from tests.support.console_client import sign_in

MALANG = {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12}


def _sos(client, headers, phone="0812-3456-7890", name="Sari", **extra):
    return client.post("/api/v1/sos", headers={**headers, **extra},
                       json={"reporter": {"phone": phone, "name": name}, "location": MALANG})


@pytest.fixture
def other_alarms(database):
    """A bank's panic alarm and another app's SOS: what the app must not see."""
    with database.session() as session:
        panel = Alarm(source="panel", kind="holdup", priority=10, state="open", message="Bank BRI Klojen")
        session.add(panel)
        session.flush()
        return panel.id


def test_the_apps_token_reads_back_its_own_sos_and_nothing_else(client, make_token, other_alarms):
    app_token, other_app = make_token("alarms:write"), make_token("alarms:write")
    mine = _sos(client, app_token).get_json()["id"]
    theirs = _sos(client, other_app, phone="0813-1111-2222", name="Budi").get_json()["id"]

    listed = client.get("/api/v1/alarms", headers=app_token).get_json()["alarms"]
    assert [a["id"] for a in listed] == [mine]
    assert client.get(f"/api/v1/alarms/{mine}", headers=app_token).status_code == 200
    for hidden in (theirs, other_alarms):
        response = client.get(f"/api/v1/alarms/{hidden}", headers=app_token)
        assert response.status_code == 404  # not even told it exists
        assert "Budi" not in response.get_data(as_text=True)


def test_the_apps_token_cannot_acknowledge_close_or_text_back(client, make_token):
    app_token = make_token("alarms:write")
    mine = _sos(client, app_token).get_json()["id"]
    assert client.patch(f"/api/v1/alarms/{mine}", json={"state": "closed"}, headers=app_token).status_code == 403
    assert client.post(f"/api/v1/alarms/{mine}/reply", json={"message": "x"}, headers=app_token).status_code == 403
    assert client.get("/api/v1/console/alarms/%d" % mine, headers=app_token).status_code == 403
    assert client.get("/api/v1/events", headers=app_token).status_code == 403


def test_a_resend_with_another_apps_idempotency_key_does_not_return_their_alarm(client, make_token):
    first, second = make_token("alarms:write"), make_token("alarms:write")
    original = _sos(client, first, **{"Idempotency-Key": "k-1"})
    assert original.status_code == 201
    resend = _sos(client, first, **{"Idempotency-Key": "k-1"})
    assert (resend.status_code, resend.get_json()["id"]) == (200, original.get_json()["id"])
    guess = _sos(client, second, **{"Idempotency-Key": "k-1"})
    assert guess.status_code == 201 and guess.get_json()["id"] != original.get_json()["id"]


@pytest.mark.parametrize("role", ["calltaker", "dispatcher", "supervisor", "admin"])
def test_every_console_role_reads_every_alarm(app, database, make_token, other_alarms, role):
    client = app.test_client()
    sos_id = _sos(client, make_token("alarms:write")).get_json()["id"]
    sign_in(client, database, role)
    listed = {a["id"] for a in client.get("/api/v1/alarms").get_json()["alarms"]}
    assert listed == {sos_id, other_alarms}


def test_a_read_scope_token_reads_every_alarm_and_cannot_post(client, make_token, other_alarms):
    reader = make_token("alarms:read")
    sos_id = _sos(client, make_token("alarms:write")).get_json()["id"]
    assert {a["id"] for a in client.get("/api/v1/alarms", headers=reader).get_json()["alarms"]} == {sos_id, other_alarms}
    assert _sos(client, reader).status_code == 403


def test_the_token_command_offers_the_read_and_handle_scopes(cli_runner):
    result = cli_runner.invoke(["token", "create", "dashboard", "--scope", "alarms:read"])
    assert result.exit_code == 0, result.output
    refused = cli_runner.invoke(["token", "create", "x", "--scope", "alarms:everything"])
    assert refused.exit_code != 0
