"""Reporters: points for true reports, strikes for false ones, a block after three, appeals a supervisor decides."""

from __future__ import annotations

from sqlalchemy import select

from siaga112.models import AuditEntry, Reporter
from tests.support.alarm_helpers import sign_in

PHONE = "+6281311112222"


def sos_then_incident(client, headers, status: str, note: str = "Checked on site") -> dict:
    alarm = client.post("/api/v1/sos", json={"reporter": {"phone": PHONE}, "location": {"lat": -7.97, "lon": 112.63}},
                        headers=headers).get_json()
    incident = client.post("/api/v1/incidents", json={"category": "general", "description": "SOS",
                                                       "alarm_ids": [alarm["id"]]}, headers=headers).get_json()
    response = client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": status, "note": note},
                            headers=headers)
    assert response.status_code == 200, response.get_json()
    return incident


def reporter(database) -> Reporter:
    with database.session() as session:
        return session.scalar(select(Reporter).where(Reporter.phone == PHONE))


def report(client, **fields):
    form = {"service_code": "fallen_tree", "lat": "-7.9666", "long": "112.6326", "description": "Pohon tumbang",
            "phone": PHONE, **fields}
    return client.post("/open311/v2/requests.json", data=form)


def block(client, headers, database) -> None:
    for _ in range(3):
        sos_then_incident(client, headers, "false_report", note="Nobody there; the caller laughed")


def test_a_report_confirmed_true_earns_a_point(client, make_token, database):
    sos_then_incident(client, make_token("alarms:write", "incidents:write"), "closed")
    assert (reporter(database).points, reporter(database).strikes) == (1, 0)


def test_three_false_reports_block_the_reporter(client, make_token, database):
    headers = make_token("alarms:write", "incidents:write")
    sos_then_incident(client, headers, "false_report", note="No one there")
    sos_then_incident(client, headers, "false_report", note="No one there")
    assert (reporter(database).strikes, reporter(database).blocked) == (2, False)
    sos_then_incident(client, headers, "false_report", note="No one there")
    assert (reporter(database).strikes, reporter(database).blocked) == (3, True)


def test_reopening_and_closing_an_incident_again_does_not_count_twice(client, make_token, database):
    headers = make_token("alarms:write", "incidents:write")
    incident = sos_then_incident(client, headers, "false_report", note="No one there")
    client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": "new", "note": "Reopened"}, headers=headers)
    client.patch(f"/api/v1/incidents/{incident['id']}", json={"status": "false_report", "note": "Still nobody"},
                 headers=headers)
    assert reporter(database).strikes == 1


def test_a_blocked_reporter_is_refused_reports_with_a_403_that_says_how_to_appeal(client, make_token, database):
    block(client, make_token("alarms:write", "incidents:write"), database)
    response = report(client)
    assert response.status_code == 403
    [error] = response.get_json()
    assert error["code"] == 403
    assert f"POST /api/v1/reporters/{PHONE}/appeal" in error["description"]
    assert "112" in error["description"]  # an emergency is never blocked


def test_a_blocked_reporters_sos_is_still_taken(client, make_token, database):
    headers = make_token("alarms:write", "incidents:write")
    block(client, headers, database)
    response = client.post("/api/v1/sos", json={"reporter": {"phone": PHONE}}, headers=headers)
    assert response.status_code == 201 and response.get_json()["flags"]["reporter_blocked"] is True


def test_an_appeal_is_public_and_only_one_may_be_pending(client, make_token, database):
    block(client, make_token("alarms:write", "incidents:write"), database)
    anonymous = client.application.test_client()
    first = anonymous.post(f"/api/v1/reporters/{PHONE}/appeal", json={"text": "Anak saya memainkan HP"})
    assert (first.status_code, first.get_json()["appeal"]["state"]) == (202, "pending")
    second = anonymous.post(f"/api/v1/reporters/{PHONE}/appeal", json={"text": "Tolong"})
    assert (second.status_code, second.get_json()["error"]["code"]) == (429, "appeal_pending")
    assert "being reviewed" in report(client).get_json()[0]["description"]


def test_appeals_from_numbers_not_blocked_or_unknown_are_refused(client, make_token, database):
    assert client.post("/api/v1/reporters/+6281300000000/appeal", json={}).status_code == 404
    sos_then_incident(client, make_token("alarms:write", "incidents:write"), "closed")
    assert client.post(f"/api/v1/reporters/{PHONE}/appeal", json={}).status_code == 409
    assert client.post("/api/v1/reporters/not-a-number/appeal", json={}).status_code == 400


def test_a_supervisor_grants_an_appeal_which_unblocks_and_is_audited(app, client, make_token, make_user, database):
    block(client, make_token("alarms:write", "incidents:write"), database)
    client.post(f"/api/v1/reporters/{PHONE}/appeal", json={"text": "Maaf"})
    supervisor = app.test_client()
    csrf = sign_in(app, supervisor, database, make_user, "supervisor")
    blocked = supervisor.get("/api/v1/reporters?blocked=1").get_json()["reporters"]
    assert [(r["phone"], r["appeal"]["state"]) for r in blocked] == [(PHONE, "pending")]
    response = supervisor.post(f"/api/v1/reporters/{PHONE}/appeal/grant", json={"note": "First time"}, headers=csrf)
    assert response.status_code == 200
    assert (response.get_json()["blocked"], response.get_json()["strikes"]) == (False, 0)
    assert report(client).status_code == 201
    with database.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "reporter.appeal.grant"))
        assert entry.target == f"reporter:{PHONE}" and entry.detail["before"] == {"strikes": 3, "blocked": True}


def test_a_refused_appeal_keeps_the_block_and_the_reporter_sees_why(app, client, make_token, make_user, database):
    block(client, make_token("alarms:write", "incidents:write"), database)
    client.post(f"/api/v1/reporters/{PHONE}/appeal", json={"text": "Bukan saya"})
    supervisor = app.test_client()
    csrf = sign_in(app, supervisor, database, make_user, "supervisor")
    supervisor.post(f"/api/v1/reporters/{PHONE}/appeal/refuse", json={"note": "Recorded prank calls"}, headers=csrf)
    status = client.get(f"/api/v1/reporters/{PHONE}/appeal").get_json()
    assert (status["blocked"], status["appeal"]["state"], status["appeal"]["note"]) == (True, "refused",
                                                                                      "Recorded prank calls")
    assert report(client).status_code == 403


def test_only_supervisors_manage_reporters(app, client, make_token, make_user, database):
    calltaker = app.test_client()
    csrf = sign_in(app, calltaker, database, make_user, "calltaker")
    assert calltaker.get("/api/v1/reporters?blocked=1").status_code == 403
    assert calltaker.post(f"/api/v1/reporters/{PHONE}/appeal/grant", json={}, headers=csrf).status_code == 403
    assert client.get("/api/v1/reporters", headers=make_token("alarms:write")).status_code == 403


def test_a_supervisor_cannot_decide_an_appeal_that_was_not_made(app, client, make_token, make_user, database):
    block(client, make_token("alarms:write", "incidents:write"), database)
    supervisor = app.test_client()
    csrf = sign_in(app, supervisor, database, make_user, "supervisor")
    response = supervisor.post(f"/api/v1/reporters/{PHONE}/appeal/grant", json={}, headers=csrf)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "no_pending_appeal")
