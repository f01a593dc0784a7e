"""The supervisors' pages through the Flask client: who may open what, the floor's numbers,
monitoring against the AMI peer, recordings search, the audit log, appeals, exports and admin forms."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from siaga112.db import utcnow
from siaga112.models import AlarmSite, AuditEntry, Call, Recording, Reporter, Unit, User
from tests.support.ami_peer import AmiPeer
from tests.support.console_client import csrf_token, sign_in

PAGES = ["/supervisor/", "/supervisor/recordings", "/supervisor/audit", "/supervisor/reporters",
         "/supervisor/exports", "/supervisor/exports/calls.csv", "/supervisor/exports/incidents.csv",
         "/supervisor/admin/users", "/supervisor/admin/sites", "/supervisor/admin/units"]
ADMIN_ONLY = {"/supervisor/admin/users", "/supervisor/admin/sites", "/supervisor/admin/units"}


def audit_rows(database, prefix: str = "") -> list[AuditEntry]:
    with database.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))
                                    .order_by(AuditEntry.id)))


@pytest.mark.parametrize("role, expected", [
    ("calltaker", 403), ("dispatcher", 403), ("supervisor", 200), ("admin", 200),
])
@pytest.mark.parametrize("path", PAGES)
def test_who_may_open_each_supervisor_page(client, database, role, expected, path):
    sign_in(client, database, role)
    if role == "supervisor" and path in ADMIN_ONLY:
        expected = 403
    assert client.get(path).status_code == expected


@pytest.mark.parametrize("role, expected", [("calltaker", 403), ("dispatcher", 403), ("supervisor", 200), ("admin", 200)])
def test_recording_player_and_audit_log_are_refused_to_call_takers_on_the_server(client, database, role, expected):
    with database.session() as session:
        call = Call(uniqueid="r1", caller="+6281234567890", state="completed")
        session.add(call)
        session.flush()
        recording = Recording(call_id=call.id, kind="full", path="/x.wav", state="ok")
        session.add(recording)
        session.flush()
        recording_id = recording.id
    sign_in(client, database, role)
    assert client.get(f"/supervisor/recordings/{recording_id}").status_code == expected
    assert client.get("/supervisor/audit?actor=someone").status_code == expected


def test_signed_out_visitor_is_sent_to_the_login_page(client):
    response = client.get("/supervisor/recordings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_floor_shows_exact_answer_shares_against_targets_for_the_chosen_period(client, database):
    now = utcnow()
    with database.session() as session:
        # Delays from Asterisk's answer; each caller spent 2 s before the queue (the intake).
        for i, delay in enumerate([3, 5, 9, 10.0, 11, 12, 14, 15.0, 19, 30]):
            answered = now - timedelta(hours=2, minutes=i)
            session.add(Call(uniqueid=f"c{i}", caller="+628111", state="completed", started_at=answered,
                             pbx_answered_at=answered, queued_at=answered + timedelta(seconds=2),
                             answered_at=answered + timedelta(seconds=delay)))
        session.add(Call(uniqueid="old", caller="+628111", state="abandoned", started_at=now - timedelta(days=3)))
        session.add(Call(uniqueid="waiting", caller="+628222", state="queued", started_at=now - timedelta(seconds=80),
                         queued_at=now - timedelta(seconds=65)))
    sign_in(client, database, "supervisor")

    page = client.get("/supervisor/?period=24h").get_data(as_text=True)

    assert _tile(page, "within-10") == "40.0%"
    assert _tile(page, "within-15") == "80.0%"
    assert _tile(page, "within-20") == "90.0%"
    assert _tile(page, "waiting") == "1"
    times = re.search(r'data-stat="answer-times">(.*?)</p>', page, re.S).group(1)
    assert "p50 0:11 · p95 0:30" in times and "p50 0:09 · p95 0:28" in times
    assert _tile(page, "abandoned") == "0.0%"
    assert "<svg" in page
    week = client.get("/supervisor/?period=7d").get_data(as_text=True)
    assert _tile(week, "abandoned") == "8.3%"  # 1 of 12 calls in seven days


def _tile(page: str, name: str) -> str:
    """The big number of one floor tile."""
    start = page.index(f'data-stat="{name}"')
    number = page.index('<span class="n">', start) + len('<span class="n">')
    return page[number:page.index("</span>", number)]


@pytest.fixture
def peer():
    with AmiPeer() as peer:
        yield peer


def aim(runtime, peer) -> None:
    runtime.settings.ami_port, runtime.settings.ami_username, runtime.settings.ami_secret = peer.port, peer.username, peer.secret


def live_call(database) -> int:
    with database.session() as session:
        taker = User(username="ani", role="calltaker", password_hash="x", phone_interface="PJSIP/1001", status="on_call")
        session.add(taker)
        session.flush()
        call = Call(uniqueid="live", caller="+6281234567890", state="answered", agent_id=taker.id,
                    agent_interface="PJSIP/1001", answered_at=utcnow())
        session.add(call)
        session.flush()
        return call.id


def test_supervisor_barges_in_from_the_floor_and_the_use_is_audited(client, database, runtime, peer):
    aim(runtime, peer)
    call_id = live_call(database)
    sign_in(client, database, "supervisor", username="sri", phone_interface="PJSIP/2001")
    floor = client.get("/supervisor/").get_data(as_text=True)
    assert f'action="/supervisor/calls/{call_id}/monitor"' in floor

    response = client.post(f"/supervisor/calls/{call_id}/monitor",
                           data={"mode": "barge", "csrf_token": csrf_token(client)})

    assert response.status_code == 302
    [originate] = peer.actions_named("Originate")
    assert (originate.get("Channel"), originate.get("Application"), originate.get("Data")) == \
        ("PJSIP/2001", "ChanSpy", "PJSIP/1001-,qBE")
    [entry] = audit_rows(database, "monitor.")
    assert (entry.actor, entry.action, entry.target) == ("sri", "monitor.barge", f"call:{call_id}")


def test_monitoring_without_the_csrf_token_is_refused(client, database, runtime, peer):
    aim(runtime, peer)
    call_id = live_call(database)
    sign_in(client, database, "supervisor", phone_interface="PJSIP/2001")
    assert client.post(f"/supervisor/calls/{call_id}/monitor", data={"mode": "listen"}).status_code == 400
    assert peer.actions == []


def test_a_call_taker_cannot_monitor_a_colleague(client, database, runtime, peer):
    aim(runtime, peer)
    call_id = live_call(database)
    sign_in(client, database, "calltaker", phone_interface="PJSIP/1002")
    token = csrf_token(client, "/")
    assert client.post(f"/supervisor/calls/{call_id}/monitor", data={"mode": "listen", "csrf_token": token}).status_code == 403
    assert peer.actions == []


def test_failed_ami_login_is_a_message_on_the_floor_not_a_server_error(client, database, runtime, peer):
    aim(runtime, peer)
    runtime.settings.ami_secret = "wrong"
    call_id = live_call(database)
    sign_in(client, database, "supervisor", phone_interface="PJSIP/2001")

    response = client.post(f"/supervisor/calls/{call_id}/monitor",
                           data={"mode": "listen", "csrf_token": csrf_token(client)}, follow_redirects=True)

    assert response.status_code == 200
    assert "ami_username" in response.get_data(as_text=True)
    assert [a.name for a in peer.actions] == ["Login"]


def test_recordings_are_found_by_local_number_date_and_state(client, database):
    now = utcnow()
    with database.session() as session:
        for uniqueid, caller, state, started in [("a", "+6281234567890", "completed", now - timedelta(days=1)),
                                                 ("b", "+6289999999999", "completed", now - timedelta(days=1)),
                                                 ("c", "+6281234567890", "abandoned", now - timedelta(days=3))]:
            call = Call(uniqueid=uniqueid, caller=caller, state=state, started_at=started)
            session.add(call)
            session.flush()
            session.add(Recording(call_id=call.id, kind="full", path=f"/{uniqueid}.wav", state="ok"))
    sign_in(client, database, "supervisor")
    day = (now - timedelta(days=1)).astimezone(runtime_zone()).date().isoformat()

    def found(query: str) -> int:
        return client.get(f"/supervisor/recordings?{query}").get_data(as_text=True).count("<tr data-recording=")

    assert found("number=0812-3456") == 2
    assert found("number=0812-3456&state=abandoned") == 1
    assert found(f"number=0812-3456&date={day}") == 1
    assert found("") == 3


def runtime_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Jakarta")


def test_audit_log_filters_by_actor_and_action_prefix(client, database):
    from siaga112 import audit

    with database.session() as session:
        audit.record(session, "sri", "monitor.listen", "call:1")
        audit.record(session, "sri", "recording.listen", "recording:4")
        audit.record(session, "dewi", "monitor.barge", "call:2")
    sign_in(client, database, "supervisor")

    page = client.get("/supervisor/audit?action=monitor.&actor=sri").get_data(as_text=True)

    assert page.count('<tr data-action="') == 1
    assert 'data-action="monitor.listen"' in page


def test_supervisor_grants_a_pending_appeal_and_the_reporter_is_unblocked(client, database):
    with database.session() as session:
        session.add(Reporter(phone="+6281111111111", strikes=3, blocked=True, blocked_at=utcnow(),
                             appeal_state="pending", appeal_text="Anak saya yang menelepon", appeal_at=utcnow()))
    sign_in(client, database, "supervisor", username="sri")
    assert "Anak saya yang menelepon" in client.get("/supervisor/reporters").get_data(as_text=True)

    response = client.post("/supervisor/reporters/+6281111111111/appeal",
                           data={"decision": "grant", "note": "ok", "csrf_token": csrf_token(client)})

    assert response.status_code == 302
    with database.session() as session:
        reporter = session.scalar(select(Reporter))
        assert (reporter.blocked, reporter.strikes, reporter.appeal_state) == (False, 0, "granted")
    [entry] = audit_rows(database, "reporter.appeal")
    assert (entry.actor, entry.action) == ("sri", "reporter.appeal.grant")


def test_calls_export_is_csv_with_formula_cells_quoted_and_is_audited(client, database):
    now = utcnow()
    with database.session() as session:
        session.add(Call(uniqueid="x1", caller="+6281234567890", caller_name='=HYPERLINK("http://evil","x")',
                         state="completed", started_at=now - timedelta(minutes=5),
                         pbx_answered_at=now - timedelta(minutes=5), queued_at=now - timedelta(minutes=5, seconds=-2),
                         answered_at=now - timedelta(minutes=5) + timedelta(seconds=7.5)))
        session.add(Call(uniqueid="x2", caller=None, caller_name="@SUM(A1)", state="abandoned",
                         started_at=now - timedelta(minutes=4)))
        session.add(Call(uniqueid="x3", caller="+628", caller_name="Budi", state="completed",
                         started_at=now - timedelta(days=2)))
    sign_in(client, database, "supervisor", username="sri")

    response = client.get("/supervisor/exports/calls.csv?period=24h")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["uniqueid"] for r in rows] == ["x1", "x2"]
    assert rows[0]["caller_name"] == '\'=HYPERLINK("http://evil","x")'
    assert rows[0]["caller"] == "'+6281234567890"
    assert (rows[0]["answer_delay_s"], rows[0]["queue_wait_s"]) == ("7.5", "5.5")
    assert rows[1]["caller_name"] == "'@SUM(A1)"
    assert rows[1]["caller"] == ""
    [entry] = audit_rows(database, "export.")
    assert (entry.actor, entry.action) == ("sri", "export.calls")


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+62812", "'+62812"), ("-2", "'-2"), ("@A1", "'@A1"), ("\tx", "'\tx"),
    ("Budi", "Budi"), ("", ""), (None, ""), (True, "true"), (12, "12"), (-3, "-3"), (-7.97, "-7.97"),
    (112.5, "112.5"), (7.0, "7"), ("-7.97", "'-7.97"),
])
def test_safe_cell_quotes_what_a_spreadsheet_would_evaluate(value, cell):
    from agent_console.supervisor.exports import safe_cell

    assert safe_cell(value) == cell


def test_incidents_export_writes_coordinates_as_plain_numbers_to_six_decimals(client, database):
    from siaga112.models import Incident

    with database.session() as session:
        session.add(Incident(category="fire", lat=-7.97 + 1e-15, lon=112.63000000000001, description="=cmd",
                             created_at=utcnow() - timedelta(hours=1)))
    sign_in(client, database, "supervisor")

    body = client.get("/supervisor/exports/incidents.csv?period=24h").get_data(as_text=True)

    [row] = list(csv.DictReader(io.StringIO(body)))
    assert (row["lat"], row["lon"]) == ("-7.97", "112.63")  # no apostrophe, no float noise
    assert row["description"] == "'=cmd"  # text that a spreadsheet would evaluate is still quoted


def test_incidents_export_between_two_local_dates(client, database):
    from siaga112.models import Incident

    with database.session() as session:
        session.add(Incident(category="fire", kecamatan="Klojen", description="-rumah terbakar",
                             created_at=utcnow() - timedelta(hours=1)))
    sign_in(client, database, "supervisor")
    today = utcnow().astimezone(runtime_zone()).date()

    body = client.get(f"/supervisor/exports/incidents.csv?from={today - timedelta(days=1)}&to={today}").get_data(as_text=True)

    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["category"], r["kecamatan"], r["description"]) for r in rows] == [("fire", "Klojen", "'-rumah terbakar")]


def test_admin_creates_a_user_with_a_phone_and_it_is_audited(client, database):
    sign_in(client, database, "admin", username="root")
    response = client.post("/supervisor/admin/users", data={
        "username": "dewi", "display_name": "Dewi", "role": "calltaker", "phone_interface": "PJSIP/1005",
        "password": "a long password", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == "dewi"))
        assert (user.role, user.phone_interface, user.active) == ("calltaker", "PJSIP/1005", True)
    [entry] = audit_rows(database, "admin.user")
    assert (entry.actor, entry.action, entry.target) == ("root", "admin.user.create", "user:dewi")


def test_admin_form_without_csrf_token_is_refused_and_changes_nothing(client, database):
    sign_in(client, database, "admin")
    response = client.post("/supervisor/admin/users", data={
        "username": "dewi", "role": "calltaker", "password": "a long password"})
    assert response.status_code == 400
    with database.session() as session:
        assert session.scalar(select(User).where(User.username == "dewi")) is None


def test_a_phone_interface_with_a_comma_is_refused(client, database):
    sign_in(client, database, "admin")
    response = client.post("/supervisor/admin/users", follow_redirects=True, data={
        "username": "dewi", "role": "calltaker", "phone_interface": "PJSIP/1005,qB", "password": "a long password",
        "csrf_token": csrf_token(client)})
    assert response.status_code == 200
    with database.session() as session:
        assert session.scalar(select(User).where(User.username == "dewi")) is None


def test_admin_deactivates_a_user_and_resets_another_password(client, database, app):
    sign_in(client, database, "admin")
    victim_id, _ = sign_in(app.test_client(), database, "calltaker", username="ani")
    token = csrf_token(client)

    client.post(f"/supervisor/admin/users/{victim_id}", data={"role": "calltaker", "csrf_token": token})
    client.post(f"/supervisor/admin/users/{victim_id}/password", data={"password": "another long one", "csrf_token": token})

    with database.session() as session:
        user = session.get(User, victim_id)
        assert user.active is False
    actions = [e.action for e in audit_rows(database, "admin.user")]
    assert actions == ["admin.user.update", "admin.user.password"]


def test_a_deactivated_users_session_ends_at_the_next_request(client, database, app):
    admin = app.test_client()
    sign_in(admin, database, "admin")
    victim_id, _ = sign_in(client, database, "supervisor")
    assert client.get("/supervisor/").status_code == 200
    admin.post(f"/supervisor/admin/users/{victim_id}", data={"role": "supervisor", "csrf_token": csrf_token(admin)})
    assert client.get("/supervisor/").status_code == 302


def test_an_admin_cannot_deactivate_themselves(client, database):
    me, _ = sign_in(client, database, "admin")
    client.post(f"/supervisor/admin/users/{me}", data={"role": "admin", "csrf_token": csrf_token(client)})
    with database.session() as session:
        assert session.get(User, me).active is True


def test_admin_adds_a_panic_button_site_and_a_unit(client, database):
    sign_in(client, database, "admin")
    token = csrf_token(client)
    client.post("/supervisor/admin/sites", data={
        "name": "Toko Emas Sinar", "lat": "-7.9797", "lon": "112.6304", "account": "1234", "csrf_token": token})
    client.post("/supervisor/admin/sites", data={
        "name": "Nowhere", "lat": "0", "lon": "0", "account": "9999", "csrf_token": token})
    page = client.get("/supervisor/admin/units").get_data(as_text=True)
    agency = page.split('<select name="agency"><option value="', 1)[1].split('"', 1)[0]
    client.post("/supervisor/admin/units", data={"callsign": "p-101", "agency": agency, "csrf_token": token})

    with database.session() as session:
        assert [(s.name, s.account) for s in session.scalars(select(AlarmSite))] == [("Toko Emas Sinar", "1234")]
        assert [u.callsign for u in session.scalars(select(Unit))] == ["P-101"]
    assert [e.action for e in audit_rows(database, "admin.")] == ["admin.site.create", "admin.unit.create"]


def test_a_supervisor_without_a_phone_is_told_so_in_indonesian(client, database, runtime, peer):
    aim(runtime, peer)
    call_id = live_call(database)
    sign_in(client, database, "supervisor")
    response = client.post(f"/supervisor/calls/{call_id}/monitor", follow_redirects=True,
                           data={"mode": "listen", "csrf_token": csrf_token(client)})
    assert "Akun Anda belum punya telepon" in response.get_data(as_text=True)
    assert peer.actions == []


def test_audit_log_filters_by_local_dates(client, database):
    from siaga112.models import AuditEntry as Entry

    now = utcnow()
    with database.session() as session:
        session.add(Entry(actor="sri", action="monitor.listen", target="call:old", at=now - timedelta(days=3)))
        session.add(Entry(actor="sri", action="monitor.listen", target="call:new", at=now))
    sign_in(client, database, "supervisor")
    today = now.astimezone(runtime_zone()).date()

    page = client.get(f"/supervisor/audit?action=monitor.&from={today}&to={today}").get_data(as_text=True)

    assert 'data-target="call:new"' in page and 'data-target="call:old"' not in page


def test_supervisor_refuses_an_appeal_and_the_number_stays_blocked(client, database):
    with database.session() as session:
        session.add(Reporter(phone="+6282222222222", strikes=3, blocked=True, appeal_state="pending", appeal_at=utcnow()))
    sign_in(client, database, "supervisor", username="sri")

    client.post("/supervisor/reporters/+6282222222222/appeal",
                data={"decision": "refuse", "csrf_token": csrf_token(client)})
    again = client.post("/supervisor/reporters/+6282222222222/appeal", follow_redirects=True,
                        data={"decision": "grant", "csrf_token": csrf_token(client)})

    with database.session() as session:
        reporter = session.scalar(select(Reporter))
        assert (reporter.blocked, reporter.appeal_state) == (True, "refused")
    assert again.status_code == 200  # a decided appeal cannot be decided twice: a message, not an error page
    assert [e.action for e in audit_rows(database, "reporter.appeal")] == ["reporter.appeal.refuse"]
