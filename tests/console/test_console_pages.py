"""Console pages and the console's own API through the Flask client: who may do what, sessions,
CSRF, escaping, and the call-taker's actions on a call."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from siaga112.models import AuditEntry, Call, User
from tests.console import factories

PAGES = ["/", "/callbacks", "/incidents", "/incidents/new", "/map"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_strangers_to_the_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ["calltaker", "dispatcher", "supervisor", "admin"])
@pytest.mark.parametrize("path", PAGES)
def test_every_console_role_reaches_the_console_pages(client, make_user, role, path):
    username, _ = make_user(role)
    factories.client_login(client, username)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("role, expected", [(None, 401), ("calltaker", 200), ("dispatcher", 200), ("supervisor", 200)])
def test_console_queue_api_by_role(client, make_user, role, expected):
    if role:
        factories.client_login(client, make_user(role)[0])
    assert client.get("/api/v1/console/queue").status_code == expected


@pytest.mark.parametrize("role, expected", [("calltaker", 403), ("dispatcher", 200)])
def test_only_dispatchers_dispatch_units(client, make_user, make_token, database, settings, role, expected):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    incident = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                           json={"category": "crime", "location": {"lat": lat, "lon": lon}}).get_json()
    token = factories.client_login(client, make_user(role)[0])
    unit = incident["routing"]["recommended_units"][0]["callsign"]
    response = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"units": [unit]},
                           headers={"X-CSRFToken": token})
    assert response.status_code == expected


def test_login_form_without_csrf_token_is_refused(client, make_user):
    username, password = make_user("calltaker")
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 400
    assert "user_id" not in (client.get_cookie("session").value if client.get_cookie("session") else "")


def test_console_write_without_csrf_header_is_refused(client, make_user, database):
    factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database)
    response = client.post(f"/api/v1/console/calls/{call_id}/fixes", json={"lat": -7.97, "lon": 112.63})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"


def test_console_write_with_csrf_header_is_taken(client, make_user, database):
    token = factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database)
    response = client.post(f"/api/v1/console/calls/{call_id}/fixes", json={"lat": -7.97, "lon": 112.63, "note": "depan pasar"},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert response.get_json()["fixes"][0]["source"] == "manual"


def test_logout_without_csrf_token_is_refused(client, make_user):
    factories.client_login(client, make_user("calltaker")[0])
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_logout_ends_the_session_and_is_audited(client, make_user, database):
    username, _ = make_user("calltaker")
    token = factories.client_login(client, username)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    with database.session() as session:
        actions = [e.action for e in session.query(AuditEntry).filter_by(actor=username).order_by(AuditEntry.id)]
        assert session.query(User).filter_by(username=username).one().status == "offline"
    assert actions == ["login", "logout"]


def test_wrong_password_is_refused_and_audited(client, make_user, database):
    username, _ = make_user("calltaker")
    token = factories.csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": "guess", "csrf_token": token})
    assert response.status_code == 401
    with database.session() as session:
        assert session.query(AuditEntry).filter_by(actor=username, action="login.failed").count() == 1


def test_session_lasts_the_configured_minutes(app, runtime):
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=runtime.settings.session_minutes)


def test_session_older_than_its_lifetime_is_refused(app, client, make_user, monkeypatch):
    import itsdangerous.timed

    username, _ = make_user("calltaker")
    with app.app_context():
        from siaga112.models import User as UserModel
        from siaga112.web import db

        user = db().query(UserModel).filter_by(username=username).one()
        stale = {"user_id": user.id, "pw": user.password_hash[-16:], "_permanent": True}
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    signed_at = int(itsdangerous.timed.TimestampSigner.get_timestamp(None)) - int(lifetime) - 60
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
    cookie = app.session_interface.get_signing_serializer(app).dumps(stale)
    monkeypatch.undo()
    client.set_cookie("session", cookie)
    assert client.get("/").status_code == 302


def test_changed_password_ends_other_sessions(client, make_user, database):
    from siaga112 import auth

    username, _ = make_user("calltaker")
    factories.client_login(client, username)
    with database.session() as session:
        session.query(User).filter_by(username=username).one().password_hash = auth.hash_password("a new password")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, make_user, target):
    username, password = make_user("calltaker")
    token = factories.csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                           "next": target})
    assert response.headers["Location"] == "/"


def test_markup_from_callers_is_escaped_in_server_rendered_pages(client, make_user, database):
    factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database, caller_name="<script>alert(1)</script>", state="abandoned",
                                    transcript='</textarea><img src=x onerror="alert(2)">')
    listing = client.get("/callbacks").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "<script>alert(1)" not in listing
    form = client.get(f"/incidents/new?call={call_id}").get_data(as_text=True)
    assert "&lt;/textarea&gt;&lt;img" in form
    view = client.get(f"/calls/{call_id}").get_data(as_text=True)
    state = re.search(r'<script type="application/json" id="call-state">(.*?)</script>', view, re.S).group(1)
    assert "<" not in state  # JSON in the page carries no markup that could end the script element


def test_confirmed_fix_stays_when_a_newer_one_arrives(client, make_user, database):
    token = factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database, fix=(-7.97, 112.63, 800.0), fix_source="cell")
    first = client.get(f"/api/v1/console/calls/{call_id}").get_json()["fixes"][0]["id"]
    confirmed = client.post(f"/api/v1/console/calls/{call_id}/confirm-fix", json={"fix_id": first},
                            headers={"X-CSRFToken": token}).get_json()
    assert confirmed["confirmed_fix_id"] == first
    newer = factories.add_fix(database, call_id, -7.9701, 112.6301, 5.0)
    detail = client.get(f"/api/v1/console/calls/{call_id}").get_json()
    assert detail["location"]["source"] == "cell"
    assert detail["newer_fix_id"] == newer
    with database.session() as session:
        assert session.query(AuditEntry).filter_by(action="call.fix_confirmed").count() == 1


def test_fix_of_another_call_cannot_be_confirmed(client, make_user, database):
    token = factories.client_login(client, make_user("calltaker")[0])
    one = factories.queued_call(database, fix=(-7.97, 112.63, 50.0))
    other = factories.queued_call(database)
    fix_id = client.get(f"/api/v1/console/calls/{one}").get_json()["fixes"][0]["id"]
    response = client.post(f"/api/v1/console/calls/{other}/confirm-fix", json={"fix_id": fix_id},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 400


@pytest.mark.parametrize("lat, lon", [(0, 0), (95, 112), ("abc", 1), (None, None)])
def test_manual_fix_refuses_impossible_positions(client, make_user, database, lat, lon):
    token = factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database)
    response = client.post(f"/api/v1/console/calls/{call_id}/fixes", json={"lat": lat, "lon": lon},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_location"


def test_joining_a_closed_incident_is_refused(client, make_user, make_token, database, settings):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    api = make_token("incidents:write")
    incident = client.post("/api/v1/incidents", headers=api, json={"category": "fire", "location": {"lat": lat, "lon": lon}}).get_json()
    client.patch(f"/api/v1/incidents/{incident['id']}", headers=api, json={"status": "closed", "note": "padam"})
    token = factories.client_login(client, make_user("calltaker")[0])
    call_id = factories.queued_call(database, fix=(lat, lon, 20.0))
    assert client.get(f"/api/v1/console/calls/{call_id}").get_json()["nearby_incidents"] == []
    response = client.post(f"/api/v1/console/calls/{call_id}/incident", json={"incident_id": incident["id"]},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 409


def test_call_back_without_a_manager_account_is_unavailable(client, make_user, database):
    token = factories.client_login(client, make_user("calltaker", phone_interface="PJSIP/1001")[0])
    call_id = factories.queued_call(database, state="abandoned")
    response = client.post(f"/api/v1/console/calls/{call_id}/callback", headers={"X-CSRFToken": token})
    assert response.status_code == 503


def test_call_back_rings_through_the_ami_module(client, make_user, database, runtime, monkeypatch):
    from agent_console import callback

    placed = []
    monkeypatch.setattr(runtime.settings, "ami_username", "siaga")
    monkeypatch.setattr(callback, "_ami_call_back",
                        lambda: lambda rt, user, call, ip=None: placed.append((user.username, call.caller)) or "act-1")
    username, _ = make_user("calltaker", phone_interface="PJSIP/1001")
    token = factories.client_login(client, username)
    call_id = factories.queued_call(database, caller="+6281200009999", state="abandoned")
    response = client.post(f"/api/v1/console/calls/{call_id}/callback", headers={"X-CSRFToken": token})
    assert response.status_code == 202
    assert response.get_json() == {"action_id": "act-1"}
    assert placed == [(username, "+6281200009999")]


def test_jurisdictions_are_served_as_geojson(client, make_user, database, settings):
    factories.seed_demo_city(database, settings)
    factories.client_login(client, make_user("calltaker")[0])
    body = client.get("/api/v1/console/jurisdictions.geojson").get_json()
    assert body["type"] == "FeatureCollection"
    assert {f["properties"]["name"] for f in body["features"]} == {"Siaga Utara", "Siaga Selatan"}


def test_earlier_calls_from_the_number_are_listed(client, make_user, database):
    factories.client_login(client, make_user("calltaker")[0])
    earlier = factories.queued_call(database, caller="+6281211110000", state="abandoned", waited=timedelta(minutes=30))
    current = factories.queued_call(database, caller="+6281211110000")
    detail = client.get(f"/api/v1/console/calls/{current}").get_json()
    assert [c["id"] for c in detail["earlier_calls"]] == [earlier]


def test_language_choice_is_kept_on_the_account(client, make_user, database):
    username, _ = make_user("calltaker")
    token = factories.client_login(client, username)
    client.post("/language", data={"lang": "en", "csrf_token": token})
    assert "Call queue" in client.get("/").get_data(as_text=True)
    with database.session() as session:
        assert session.query(User).filter_by(username=username).one().language == "en"


def test_call_row_survives_a_missing_call(client, make_user):
    factories.client_login(client, make_user("calltaker")[0])
    assert client.get("/api/v1/console/calls/999").status_code == 404
    assert client.get("/calls/999").status_code == 404


def test_queue_lists_highest_priority_then_longest_waiting(client, make_user, database):
    factories.client_login(client, make_user("calltaker")[0])
    old_low = factories.queued_call(database, priority=3, waited=timedelta(minutes=5))
    new_high = factories.queued_call(database, priority=8, waited=timedelta(seconds=3))
    old_high = factories.queued_call(database, priority=8, waited=timedelta(seconds=30))
    factories.queued_call(database, state="completed")
    ids = [c["id"] for c in client.get("/api/v1/console/queue").get_json()["calls"]]
    assert ids == [old_high, new_high, old_low]
    with database.session() as session:
        assert session.query(Call).count() == 4
