"""A 12-hour shift in Chromium at 1366x768: nothing missed, nothing done twice (issue 16, findings 1-8, 10).

Each test meets a finding as a call-taker, dispatcher or supervisor would, and keeps a screenshot
under tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.console import factories
from tests.console.browser import shot, wait_until

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def _live(page):
    expect(page.locator("#live")).to_have_attribute("data-state", "open")


def _incident_count(database) -> int:
    from siaga112.models import Incident

    with database.session() as session:
        return session.query(Incident).count()


# --- 1. a console that knows it is not live ------------------------------------------------------------

def test_signing_out_in_another_tab_turns_this_console_red_within_five_seconds(logged_in_page, console, database):
    queue_tab = logged_in_page("calltaker")
    _live(queue_tab)
    factories.queued_call(database, caller="+6281200009999")
    timer = queue_tab.locator("#queue .timer").first
    expect(timer).to_be_visible()
    other_tab = queue_tab.context.new_page()
    other_tab.goto(console.url("/incidents"))
    signed_out_at = time.monotonic()
    other_tab.click("header form[action$='/logout'] button")
    banner = queue_tab.locator("#connection-banner")
    expect(banner).to_be_visible(timeout=5000)
    assert time.monotonic() - signed_out_at < 5.0
    expect(banner).to_contain_text("Anda sudah keluar")
    expect(banner.locator("#connection-login")).to_be_visible()
    expect(queue_tab.locator("#live")).to_have_attribute("data-state", "signed-out")
    frozen = timer.text_content()
    queue_tab.wait_for_timeout(1500)
    assert timer.text_content() == frozen  # the wait no longer pretends to be counted
    shot(queue_tab, "shift-1-signed-out")
    banner.locator("#connection-login").click()
    queue_tab.wait_for_url(re.compile(r"/login\?next="))


def test_a_session_ended_on_the_server_is_seen_without_another_tab(logged_in_page, console, database):
    page = logged_in_page("dispatcher")
    _live(page)
    from siaga112.models import User

    with database.session() as session:  # e.g. an administrator disabled the account
        user = session.query(User).filter_by(username=page.evaluate("document.body.dataset.user")).one()
        user.session_epoch += 1
    expect(page.locator("#connection-banner")).to_be_visible(timeout=5000)
    expect(page.locator("#connection-banner")).to_contain_text("Masuk lagi")


class CuttableLine:
    """A TCP relay between the browser and the console that can be cut and mended, as a network or
    a server going away would (every open connection, the event stream's too, is dropped)."""

    def __init__(self, target_port: int) -> None:
        import socket

        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(32)
        self.open, self.sockets = True, []
        import threading

        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.close()
            except OSError:
                pass

    def cut(self) -> None:
        import socket

        self.open = False
        for end in self.sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.sockets = []

    def mend(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_losing_the_server_shows_the_red_banner_and_recovering_clears_it(console, database, new_page):
    from tests.console.browser import create_user, log_in

    line = CuttableLine(console.port)
    try:
        relayed = type("Relayed", (), {"url": lambda self, path="/": f"http://127.0.0.1:{line.port}{path}"})()
        page = new_page()
        log_in(page, relayed, create_user(database, "calltaker"))
        _live(page)
        lost_at = time.monotonic()
        line.cut()
        expect(page.locator("#connection-banner")).to_be_visible(timeout=5000)
        assert time.monotonic() - lost_at < 5.0
        expect(page.locator("#connection-banner")).to_contain_text("Koneksi ke server terputus")
        expect(page.locator("#connection-login")).to_be_hidden()  # still signed in: only the line is down
        shot(page, "shift-1-server-lost")
        line.mend()
        expect(page.locator("#connection-banner")).to_be_hidden(timeout=8000)
        _live(page)
    finally:
        line.close()


# --- 2. idempotent creates ---------------------------------------------------------------------------

def test_ctrl_enter_three_times_makes_one_incident(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    call_id = factories.queued_call(database, caller="+6281200001234", service_choice="fire",
                                    transcript="Gudang terbakar", fix=(lat, lon, 15.0))
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/new?call={call_id}"))
    page.route("**/api/v1/incidents", lambda route: (time.sleep(0.3), route.continue_()))  # a slow network
    page.focus("textarea[name=description]")
    for _ in range(3):
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(100)
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    assert _incident_count(database) == 1
    first = page.url
    page.go_back()  # Back, and send the same form again: the same incident, not a second
    page.wait_for_url(re.compile(r"/incidents/new"))
    page.wait_for_selector("body[data-ready]")
    page.focus("textarea[name=description]")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    assert page.url == first
    assert _incident_count(database) == 1


def test_a_blank_incident_form_is_refused_with_a_clear_message(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    page = logged_in_page("calltaker")
    page.goto(console.url("/incidents/new"))
    expect(page.locator("select[name=category]")).to_have_value("")
    page.click("#incident-form button[type=submit]")
    expect(page.locator("#incident-error")).to_have_text("Pilih kategori kejadian dulu.")
    shot(page, "shift-2-blank-form")
    assert _incident_count(database) == 0


def test_the_api_refuses_a_blank_category_and_replays_a_repeated_key(client, make_token, database, settings):
    factories.seed_demo_city(database, settings)
    writer = make_token("incidents:write")
    blank = client.post("/api/v1/incidents", json={"category": " "}, headers=writer)
    assert blank.status_code == 400 and blank.get_json()["error"]["code"] == "missing_category"
    headers = {**writer, "Idempotency-Key": "form-42"}
    first = client.post("/api/v1/incidents", json={"category": "fire"}, headers=headers)
    again = client.post("/api/v1/incidents", json={"category": "fire"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _incident_count(database) == 1
    elsewhere = client.post(f"/api/v1/incidents/{first.get_json()['id']}/notes", json={"note": "x"}, headers=headers)
    assert elsewhere.status_code == 422  # one key, one request


# --- 3. dispatch: once per unit, suggestions live, reassign as an action ---------------------------------

def _incident(client, make_token, lat, lon, category="fire") -> int:
    created = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                          json={"category": category, "location": {"lat": lat, "lon": lon}})
    assert created.status_code == 201, created.get_data(as_text=True)
    return created.get_json()["id"]


def test_pressing_d_twice_sends_the_unit_once(logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    incident_id = _incident(client, make_token, lat, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{incident_id}"))
    _live(page)
    unit = page.locator("#recommended input[name=units]").first.get_attribute("value")
    page.keyboard.press("d")
    page.keyboard.press("d")
    expect(page.locator("#assignments li")).to_have_count(1)
    # A page that had not heard of the dispatch yet (a second console, a stale tab) sends it again.
    page.evaluate(f"Siaga.api('POST', '/api/v1/incidents/{incident_id}/dispatch', {{units: ['{unit}']}})")
    expect(page.locator("#assignments li")).to_have_count(1)
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=make_token("incidents:write")).get_json()
    assert [u["callsign"] for u in detail["units"]] == [unit]
    assert sum(1 for step in detail["history"] if (step["detail"] or {}).get("units")) == 1


def test_a_unit_sent_elsewhere_leaves_the_offer_and_can_be_reassigned_with_a_button(
        logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    first = _incident(client, make_token, lat, lon)
    second = _incident(client, make_token, lat + 0.001, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{second}"))
    _live(page)
    unit = page.locator("#recommended input[name=units]").first.get_attribute("value")
    expect(page.locator(f"#recommended input[value='{unit}']")).to_be_checked()
    sent = client.post(f"/api/v1/incidents/{first}/dispatch", json={"units": [unit]}, headers=make_token("incidents:write"))
    assert sent.status_code == 200, sent.get_data(as_text=True)
    expect(page.locator(f"#recommended input[value='{unit}']")).to_have_count(0)  # gone from the offer, live
    busy = page.locator(f"#busy-units li[data-callsign='{unit}']")
    expect(busy).to_contain_text(f"#{first}")
    shot(page, "shift-3-busy-unit")
    page.once("dialog", lambda dialog: dialog.accept())
    busy.locator("button.reassign").click()
    expect(page.locator("#assignments")).to_contain_text(unit)
    expect(page.locator("#busy-units li[data-callsign='%s']" % unit)).to_have_count(0)
    page.goto(console.url(f"/incidents/{first}"))
    expect(page.locator("#timeline")).to_contain_text(f"{unit} dialihkan ke insiden #{second}")


def test_a_busy_unit_refusal_offers_the_reassign_button_in_indonesian(
        logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    first = _incident(client, make_token, lat, lon)
    second = _incident(client, make_token, lat + 0.001, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{second}"))
    _live(page)
    unit = page.locator("#recommended input[name=units]").first.get_attribute("value")
    page.route(f"**/api/v1/incidents/{second}", lambda route: route.abort())  # the page does not learn of it
    page.route(f"**/incidents/{second}", lambda route: route.abort())
    client.post(f"/api/v1/incidents/{first}/dispatch", json={"units": [unit]}, headers=make_token("incidents:write"))
    page.unroute(f"**/api/v1/incidents/{second}")
    page.evaluate("document.getElementById('dispatch-form').requestSubmit()")
    error = page.locator("#dispatch-error")
    expect(error).to_contain_text(f"Unit {unit} sedang menangani insiden #{first}")
    assert "reassign" not in error.text_content()
    expect(error.locator("button.reassign")).to_have_text(f"Alihkan {unit} ke insiden ini")


# --- 4. status follows dispatch; notes apart ---------------------------------------------------------

def test_status_follows_dispatch_and_a_note_needs_no_status_change(
        logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    incident_id = _incident(client, make_token, lat, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{incident_id}"))
    _live(page)
    page.keyboard.press("d")
    expect(page.locator("#incident-status")).to_have_text("Unit dikirim")
    expect(page.locator("#status-form select[name=status]")).to_have_value("dispatched")
    page.fill("#note-form input[name=note]", "Penelepon menelepon lagi: api membesar")
    page.click("#note-form button[type=submit]")
    expect(page.locator("#timeline")).to_contain_text("api membesar")
    expect(page.locator("#incident-status")).to_have_text("Unit dikirim")
    # A status change that cannot happen keeps the words as a note and says why the status stayed.
    page.select_option("#status-form select[name=status]", "new")
    page.fill("#status-form input[name=note]", "Dibuka lagi? Tidak: masih berjalan")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#status-error")).to_contain_text("Catatan disimpan")
    expect(page.locator("#timeline")).to_contain_text("masih berjalan")
    shot(page, "shift-4-notes")


# --- 5. silent emergencies, waiting for a dispatcher, failed SMS --------------------------------------

def test_a_confirmed_silent_emergency_is_unmistakable(logged_in_page, console, database):
    page = logged_in_page("calltaker")
    _live(page)
    call_id = factories.queued_call(database, caller="+6281200005555", silent=True, silent_emergency=True, priority=9)
    plain = factories.queued_call(database, caller="+6281200005556", silent=True)
    row = page.locator(f"#queue li[data-call-id='{call_id}']")
    expect(row.locator(".mark.silent-emergency")).to_have_text(re.compile("DARURAT SENYAP"))
    expect(row).to_have_class(re.compile("silent-emergency"))
    expect(page.locator(f"#queue li[data-call-id='{plain}'] .mark.silent-emergency")).to_have_count(0)
    shot(page, "shift-5-silent-emergency")
    page.goto(console.url(f"/calls/{call_id}"))
    expect(page.locator(".call-head.silent-emergency")).to_be_visible()


def test_a_calltaker_is_told_the_incident_waits_for_a_dispatcher(logged_in_page, console, database, settings,
                                                                  client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    incident_id = _incident(client, make_token, lat, lon)
    page = logged_in_page("calltaker")
    page.goto(console.url(f"/incidents/{incident_id}"))
    expect(page.locator("#waits-for-dispatcher")).to_contain_text("menunggu dispatcher")
    expect(page.locator("#dispatch")).to_have_count(0)


def test_failed_sms_are_shown_with_a_retry_and_stop_when_the_incident_closes(
        logged_in_page, console, database, settings, client, make_token, runtime):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    incident_id = _incident(client, make_token, lat, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{incident_id}"))
    _live(page)
    page.keyboard.press("d")  # the test settings have no Twilio account: every SMS fails
    expect(page.locator("#sms-alert .notice.danger")).to_contain_text("GAGAL")
    failed = page.locator("#sms li[data-state='failed']")
    expect(failed.first).to_contain_text("GAGAL")
    expect(failed.first.locator("button.retry-sms")).to_have_text("Kirim ulang")
    shot(page, "shift-5-sms-failed")
    failed.first.locator("button.retry-sms").click()
    expect(page.locator("#sms li[data-state='failed']").first).to_be_visible()
    from siaga112.models.incidents import Notification

    with database.session() as session:
        bodies = [n.body for n in session.query(Notification)]
    assert bodies and all("Kebakaran" in body and "Unit:" in body for body in bodies)
    page.select_option("#status-form select[name=status]", "closed")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#incident-status")).to_have_text("Ditutup")
    expect(page.locator("button.retry-sms")).to_have_count(0)
    from routing.notify import retry_due
    from siaga112.db import utcnow

    with database.session() as session:
        for notification in session.query(Notification):
            assert notification.next_attempt_at is None
            notification.next_attempt_at = utcnow()  # even if one were due, a closed incident's SMS stay unsent
    assert retry_due(runtime) == 0


# --- 6. attention ------------------------------------------------------------------------------------

def test_a_new_call_sounds_and_marks_the_tab_and_waits_turn_red_past_the_target(logged_in_page, console, database):
    page = logged_in_page("calltaker")
    _live(page)
    title = page.title()
    factories.queued_call(database, caller="+6281200007777", waited=factories.timedelta(seconds=2))
    expect(page.locator("body")).to_have_attribute("data-chimes", "1")
    assert page.title() != title and "Panggilan baru" in page.title()
    late = factories.queued_call(database, caller="+6281200007778", waited=factories.timedelta(seconds=25))
    warn = factories.queued_call(database, caller="+6281200007779", waited=factories.timedelta(seconds=12))
    expect(page.locator(f"#queue li[data-call-id='{late}'] .timer")).to_have_attribute("data-wait", "late")
    expect(page.locator(f"#queue li[data-call-id='{warn}'] .timer")).to_have_attribute("data-wait", "warn")
    shot(page, "shift-6-waits")


def test_alarms_are_acknowledged_and_closed_with_a_reason_and_technical_ones_listed_apart(
        logged_in_page, console, database, client, make_token, runtime):
    from routing.alarms.store import PRIORITY_TECHNICAL, AlarmIntake, commit_alarm
    from siaga112.models import Alarm

    page = logged_in_page("calltaker")
    _live(page)
    panic = client.post("/api/v1/sos", headers=make_token("alarms:write"), json={
        "reporter": {"phone": "+6281399991111", "name": "Rina"}, "kind": "panic",
        "location": {"lat": -7.97, "lon": 112.63, "accuracy_m": 12}}).get_json()["id"]
    with database.session() as session:
        offline, _ = commit_alarm(session, runtime, AlarmIntake(
            source="panel", kind="panel_offline", priority=PRIORITY_TECHNICAL, lat=-7.96, lon=112.62,
            message="Bank Siaga: no report since 01:00"))
        offline_id = offline.id
    row = page.locator(f"#alarms li[data-alarm-id='{panic}']")
    expect(row).to_have_class(re.compile("urgent"))
    technical = page.locator(f"#technical li[data-alarm-id='{offline_id}']")
    expect(technical).to_contain_text("Panel tidak melapor")
    expect(page.locator(f"#alarms li[data-alarm-id='{offline_id}']")).to_have_count(0)
    expect(technical.locator("[data-field=new_incident]")).to_have_count(0)
    shot(page, "shift-6-alarms")
    row.locator("[data-action=acknowledge]").click()
    expect(row.locator(".marks")).to_contain_text("Diterima")
    row = page.locator(f"#alarms li[data-alarm-id='{panic}']")
    row.locator("[data-action=close]").click()
    row.locator("select[name=reason]").select_option("false_alarm")
    row.locator("input[name=note]").fill("Anak bermain ponsel")
    shot(page, "shift-6-alarm-close-form")
    row.locator(".close-form button[type=submit]").click()
    expect(page.locator(f"#alarms li[data-alarm-id='{panic}']")).to_have_count(0)
    technical.locator("[data-action=close]").click()
    technical.locator(".close-form button[type=submit]").click()
    expect(page.locator(f"#technical li[data-alarm-id='{offline_id}']")).to_have_count(0)
    with database.session() as session:
        closed = session.get(Alarm, panic)
        assert closed.state == "closed" and "Anak bermain ponsel" in closed.note and closed.incident_id is None
        assert session.get(Alarm, offline_id).state == "closed"


# --- 7. call-taker states ------------------------------------------------------------------------------

def test_calltaker_state_follows_the_phone_with_ready_and_break_and_the_floor_shows_it(
        logged_in_page, console, database):
    agent = logged_in_page("calltaker", username="sari", phone_interface="PJSIP/1007")
    _live(agent)
    supervisor = logged_in_page("supervisor")
    # The floor's stream is held back until sari has answered, as a busy server may hold it: the
    # answer lands after the floor was read and before its stream begins, and must still show.
    held, holding = [], [True]
    supervisor.route("**/api/v1/events*", lambda route: held.append(route) if holding else route.continue_())
    supervisor.goto(console.url("/supervisor/"))
    expect(supervisor.locator("tr[data-user='sari']")).to_contain_text("Siap")
    state = agent.locator("#agent-state")
    expect(state).to_have_attribute("data-status", "available")
    call_id = factories.queued_call(database, caller="+6281200008888")
    factories.answer(database, call_id, "PJSIP/1007")
    agent.wait_for_url(re.compile(rf"/calls/{call_id}$"))
    expect(agent.locator("#agent-state")).to_have_attribute("data-status", "on_call")
    for _ in range(250):  # the floor asked for its stream once its script ran
        if held:
            break
        supervisor.wait_for_timeout(20)
    assert held, "the floor never opened its event stream"
    holding.clear()
    for route in held:
        route.continue_()
    # The floor refetches 1.5 s after an event it hears.
    expect(supervisor.locator("tr[data-user='sari']")).to_contain_text("Dalam panggilan", timeout=5000)
    from ivr.calls import end_call

    with database.session() as session:
        end_call(session, call_id)
    expect(agent.locator("#agent-state")).to_have_attribute("data-status", "wrap_up")
    expect(supervisor.locator("tr[data-user='sari']")).to_contain_text("Menyelesaikan catatan", timeout=5000)
    agent.click("#agent-break")
    expect(agent.locator("#agent-state")).to_have_attribute("data-status", "break")
    expect(supervisor.locator("tr[data-user='sari']")).to_contain_text("Istirahat", timeout=5000)
    shot(supervisor, "shift-7-floor")
    agent.click("#agent-ready")
    expect(agent.locator("#agent-state-label")).to_have_text("Siap")


# --- 8. the map ------------------------------------------------------------------------------------------

def _mbtiles(path) -> None:
    """A one-tile MBTiles file: zoom 0, a 256x256 PNG."""
    import sqlite3
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xc8\xe6\xc9" * 256 for _ in range(256))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE metadata (name text, value text)")
        connection.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
        connection.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("minzoom", "0"), ("maxzoom", "18")])
        connection.execute("INSERT INTO tiles VALUES (0, 0, 0, ?)", (png,))
    connection.close()


def test_the_base_map_comes_from_the_centres_mbtiles_file(database, settings, tmp_path, client, make_user):
    path = tmp_path / "city.mbtiles"
    _mbtiles(path)
    settings.mbtiles_path = str(path)
    factories.client_login(client, make_user("dispatcher")[0])
    tile = client.get("/tiles/0/0/0")
    assert tile.status_code == 200 and tile.content_type == "image/png" and tile.data.startswith(b"\x89PNG")
    assert client.get("/tiles/1/0/0").status_code == 404
    assert client.get("/tiles/40/0/0").status_code == 404


def test_the_situation_map_has_names_a_legend_unit_icons_by_kind_and_groups(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    page = logged_in_page("dispatcher")
    page.goto(console.url("/map"))
    expect(page.locator(".map-legend")).to_contain_text("Keterangan")
    expect(page.locator(".area-label.kecamatan").first).to_contain_text("Kec. Siaga")
    wait_until(page, "document.querySelectorAll('.unit-icon, .unit-cluster').length > 0")
    assert page.locator(".unit-cluster").count() + page.locator(".unit-icon").count() >= 3
    shot(page, "shift-8-map")


def test_a_located_call_names_its_place_and_a_call_without_one_says_what_to_do(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    located = factories.queued_call(database, caller="+6281200006661", fix=(lat, lon, 20.0))
    unlocated = factories.queued_call(database, caller="+6281200006662")
    page = logged_in_page("calltaker")
    expect(page.locator(f"#queue li[data-call-id='{located}']")).to_contain_text("Kec. Siaga")
    page.goto(console.url(f"/calls/{located}"))
    expect(page.locator("#call-place")).to_contain_text("Kec. Siaga")
    page.goto(console.url(f"/calls/{unlocated}"))
    expect(page.locator("#call-map-empty")).to_contain_text("Belum ada lokasi")
    expect(page.locator("#call-map")).to_be_hidden()
    shot(page, "shift-8-call-without-location")


def test_an_incident_shows_cameras_nearby_and_the_units_own_on_scene_report(
        logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    with database.session() as session:
        from routing.cameras import add_camera

        add_camera(session, "CCTV Perempatan", lat + 0.0005, lon, stream_url="https://cctv.example.test/live/7")
    incident_id = _incident(client, make_token, lat, lon)
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/incidents/{incident_id}"))
    _live(page)
    expect(page.locator("#cameras")).to_contain_text("CCTV Perempatan")
    camera = page.locator("#cameras li", has_text="CCTV Perempatan")
    expect(camera.locator("a")).to_have_attribute("href", "https://cctv.example.test/live/7")
    unit = page.locator("#recommended input[name=units]").first.get_attribute("value")
    page.keyboard.press("d")
    expect(page.locator("#assignments")).to_contain_text(unit)
    reported = client.put(f"/api/v1/units/{unit}/status", json={"status": "on_scene"}, headers=make_token("units:write"))
    assert reported.status_code == 200, reported.get_data(as_text=True)
    expect(page.locator("#timeline")).to_contain_text(f"{unit}: tiba di lokasi")
    expect(page.locator("#incident-status")).to_have_text("Di lokasi")
    expect(page.locator(f"#assignments li[data-callsign='{unit}']")).to_contain_text("Di lokasi")
    shot(page, "shift-8-incident")


def test_incidents_are_searchable_closed_ones_included(logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    writer = make_token("incidents:write")
    closed = client.post("/api/v1/incidents", headers=writer, json={
        "category": "fire", "description": "Kebakaran gudang kayu", "location": {"lat": lat, "lon": lon}}).get_json()["id"]
    client.patch(f"/api/v1/incidents/{closed}", json={"status": "closed"}, headers=writer)
    client.post("/api/v1/incidents", headers=writer, json={"category": "medical", "description": "Orang pingsan",
                                                           "location": {"lat": lat, "lon": lon}})
    page = logged_in_page("dispatcher")
    page.goto(console.url("/incidents"))
    expect(page.locator(f"#incidents tr[data-incident-id='{closed}']")).to_have_count(0)
    page.fill("#incident-search input[name=q]", "gudang")
    page.select_option("#incident-search select[name=show]", "all")
    page.click("#incident-search button[type=submit]")
    expect(page.locator("#incidents tbody tr")).to_have_count(1)
    expect(page.locator(f"#incidents tr[data-incident-id='{closed}']")).to_contain_text("Ditutup")
    shot(page, "shift-8-search")


# --- finding 10: bad positions refused, a landmark kept without one -----------------------------------------

def test_latitude_abc_and_longitude_999_are_refused_with_a_clear_message(logged_in_page, console, database, settings,
                                                                         client, make_token):
    factories.seed_demo_city(database, settings)
    page = logged_in_page("calltaker")
    page.goto(console.url("/incidents/new"))
    page.select_option("select[name=category]", "fire")
    page.fill("input[name=lat]", "abc")
    page.fill("input[name=lon]", "112.63")
    page.click("#incident-form button[type=submit]")
    expect(page.locator("#incident-error")).to_contain_text("Lintang harus angka desimal")
    page.fill("input[name=lat]", "-7.97")
    page.fill("input[name=lon]", "999")
    page.click("#incident-form button[type=submit]")
    expect(page.locator("#incident-error")).to_contain_text("Bujur harus angka desimal")
    shot(page, "shift-10-bad-longitude")
    assert _incident_count(database) == 0
    refused = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                          json={"category": "fire", "location": {"lat": "abc", "lon": 999}})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_location"
    assert _incident_count(database) == 0


def test_the_callers_words_save_a_landmark_without_coordinates(logged_in_page, console, database):
    call_id = factories.queued_call(database, caller="+6281200004444")
    page = logged_in_page("calltaker")
    page.goto(console.url(f"/calls/{call_id}"))
    page.fill("#manual-fix input[name=note]", "depan Masjid Jami', dekat pasar")
    page.click("#manual-fix button[type=submit]")
    expect(page.locator("#call-landmark")).to_contain_text("depan Masjid Jami'")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/incidents/new\?call="))
    expect(page.locator("input[name=address]")).to_have_value("depan Masjid Jami', dekat pasar")
    shot(page, "shift-10-landmark")
