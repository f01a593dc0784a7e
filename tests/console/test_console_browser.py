"""The call-takers' and dispatchers' console driven in Chromium, as a person on shift would use it."""

from __future__ import annotations

import re

import pytest

from tests.console import factories
from tests.console.browser import shot, wait_until

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_wrong_password_is_refused_and_the_right_one_opens_the_queue(console, database, new_page):
    from tests.console.browser import create_user

    username = create_user(database, "calltaker")
    page = new_page()
    page.goto(console.url("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "not the password")
    page.click(".login-card button[type=submit]")
    expect(page.locator(".flash.error")).to_be_visible()
    shot(page, "login-refused")
    page.fill("input[name=password]", "correct horse battery")
    page.click(".login-card button[type=submit]")
    expect(page.locator("#queue-title")).to_contain_text("Antrean")
    expect(page.locator("#live")).to_have_attribute("data-state", "open")


def test_queued_call_appears_live_and_its_transcript_follows(logged_in_page, console, database):
    page = logged_in_page("calltaker")
    page.goto(console.url("/"))
    expect(page.locator("#live")).to_have_attribute("data-state", "open")
    call_id = factories.queued_call(database, caller="+6281211112222", caller_name="Sari", priority=7,
                                    fix=(-7.97, 112.63, 25.0), repeat_count=2, waited=factories.timedelta(seconds=42))
    row = page.locator(f"#queue li[data-call-id='{call_id}']")
    expect(row).to_contain_text("+6281211112222")
    expect(row).to_contain_text("Ulang ×2")
    expect(row.locator(".statement")).to_contain_text("Transkrip sedang dibuat")
    wait = row.locator("[data-field=wait]")
    first = wait.text_content()
    expect(wait).not_to_have_text(first)  # the wait counts up in the browser
    factories.transcribe(database, call_id, "Rumah terbakar di Jalan Ijen, tolong cepat")
    expect(row.locator(".statement")).to_have_text("Rumah terbakar di Jalan Ijen, tolong cepat")
    shot(page, "queue-live")


def test_answered_call_pops_on_the_console_of_the_phone_that_took_it(logged_in_page, console, database):
    page = logged_in_page("calltaker", username="ani", phone_interface="PJSIP/1001")
    other = logged_in_page("calltaker", username="budi", phone_interface="PJSIP/1002")
    page.goto(console.url("/"))
    other.goto(console.url("/"))
    for p in (page, other):
        expect(p.locator("#live")).to_have_attribute("data-state", "open")
    call_id = factories.queued_call(database, caller="+6281333334444", fix=(-7.97, 112.63, 40.0),
                                    transcript="Ada kecelakaan motor")
    expect(page.locator(f"#queue li[data-call-id='{call_id}']")).to_be_visible()
    assert factories.answer(database, call_id, "PJSIP/1001") == "ani"
    page.wait_for_url(re.compile(rf"/calls/{call_id}$"))
    expect(page.locator("#call-caller")).to_have_text("+6281333334444")
    expect(page.locator("#call-transcript")).to_have_text("Ada kecelakaan motor")
    expect(page.locator("#fixes tbody tr")).to_have_count(1)
    expect(page.locator("#call-map path.leaflet-interactive").first).to_be_visible()  # the accuracy circle
    # The other call-taker's queue loses the call, and their console stays where it was.
    expect(other.locator(f"#queue li[data-call-id='{call_id}']")).to_have_count(0)
    assert other.url == console.url("/")
    shot(page, "call-view")


def test_enter_opens_the_top_call_of_the_queue(logged_in_page, console, database):
    low = factories.queued_call(database, caller="+6281200000001", priority=3)
    high = factories.queued_call(database, caller="+6281200000002", priority=8)
    page = logged_in_page("calltaker")
    expect(page.locator("#queue li").first).to_have_attribute("data-call-id", str(high))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/calls/{high}$"))
    assert low != high


def test_dispatcher_creates_dispatches_and_closes_an_incident_from_a_call(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    call_id = factories.queued_call(database, caller="+6281255556666", service_choice="fire",
                                    transcript="Gudang terbakar", fix=(lat, lon, 15.0))
    page = logged_in_page("dispatcher")
    page.goto(console.url(f"/calls/{call_id}"))
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/incidents/new\?call="))
    expect(page.locator("select[name=category]")).to_have_value("fire")
    expect(page.locator("textarea[name=description]")).to_have_value("Gudang terbakar")
    expect(page.locator("input[name=lat]")).to_have_value(str(lat))
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    incident_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#jurisdiction")).to_contain_text("Siaga")
    expect(page.locator("#recommended tbody tr").first).to_be_visible()
    expect(page.locator("#linked")).to_contain_text("+6281255556666")
    first_unit = page.locator("#recommended input[name=units]").first.get_attribute("value")
    shot(page, "incident-routing")
    page.keyboard.press("d")
    expect(page.locator("#assignments")).to_contain_text(first_unit)
    expect(page.locator("#incident-status")).to_have_text("Unit dikirim")
    page.select_option("#status-form select[name=status]", "false_report")
    page.fill("#status-form input[name=note]", "Tidak ada kebakaran")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#incident-status")).to_have_text("Laporan palsu")
    expect(page.locator("#timeline")).to_contain_text("Tidak ada kebakaran")
    shot(page, "incident-timeline")
    assert incident_id


def test_calltaker_is_not_offered_dispatch(logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    created = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                          json={"category": "fire", "location": {"lat": lat, "lon": lon}})
    page = logged_in_page("calltaker")
    page.goto(console.url(f"/incidents/{created.get_json()['id']}"))
    expect(page.locator("#recommended")).to_be_visible()
    expect(page.locator("#dispatch")).to_have_count(0)


def test_second_caller_joins_the_open_incident_nearby(logged_in_page, console, database, settings, client, make_token):
    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    created = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                          json={"category": "fire", "description": "Kebakaran pasar", "location": {"lat": lat, "lon": lon}})
    incident_id = created.get_json()["id"]
    call_id = factories.queued_call(database, caller="+6281277778888", fix=(lat + 0.001, lon, 30.0))
    page = logged_in_page("calltaker")
    page.goto(console.url(f"/calls/{call_id}"))
    nearby = page.locator(f"#nearby li[data-incident-id='{incident_id}']")
    expect(nearby).to_contain_text("Kebakaran pasar")
    nearby.locator("button.join").click()
    expect(page.locator("#call-incident-link")).to_contain_text(f"#{incident_id}")
    from siaga112.models import Call

    with database.session() as session:
        assert session.get(Call, call_id).incident_id == incident_id


def test_panic_alarm_appears_live_beside_the_queue(logged_in_page, console, database, client, make_token):
    page = logged_in_page("calltaker")
    expect(page.locator("#live")).to_have_attribute("data-state", "open")
    response = client.post("/api/v1/sos", headers=make_token("alarms:write"), json={
        "reporter": {"phone": "+6281399990000", "name": "Dewi"}, "kind": "panic",
        "location": {"lat": -7.97, "lon": 112.63, "accuracy_m": 12}, "message": "Dikejar orang"})
    assert response.status_code == 201, response.get_data(as_text=True)
    alarm = page.locator(f"#alarms li[data-alarm-id='{response.get_json()['id']}']")
    expect(alarm).to_contain_text("Tombol panik")  # the kind in words, not the code
    expect(alarm.locator(".mark.urgent")).to_be_visible()  # a panic is unmistakable
    expect(alarm).to_contain_text("Dewi")
    expect(alarm).to_contain_text("Dikejar orang")
    alarm.locator("[data-field=new_incident]").click()
    page.wait_for_url(re.compile(r"/incidents/new\?alarm="))
    expect(page.locator("textarea[name=description]")).to_contain_text("Dikejar orang")


def test_markup_in_caller_name_and_transcript_shows_as_text(logged_in_page, console, database):
    name = '<img src=x onerror="window.pwned=1">'
    words = "<script>window.pwned=2</script><b>tolong</b>"
    page = logged_in_page("calltaker")
    expect(page.locator("#live")).to_have_attribute("data-state", "open")
    call_id = factories.queued_call(database, caller_name=name, transcript=words)
    row = page.locator(f"#queue li[data-call-id='{call_id}']")
    expect(row.locator("[data-field=caller_name]")).to_have_text(name)
    expect(row.locator(".statement")).to_have_text(words)
    assert row.locator("img, script, b").count() == 0
    page.goto(console.url(f"/calls/{call_id}"))
    expect(page.locator("#call-caller-name")).to_have_text(name)
    expect(page.locator("#call-transcript")).to_have_text(words)
    page.goto(console.url(f"/incidents/new?call={call_id}"))
    expect(page.locator("textarea[name=description]")).to_have_value(words)
    assert page.evaluate("window.pwned") is None


def test_second_console_sees_the_first_ones_changes(logged_in_page, console, database):
    call_id = factories.queued_call(database, fix=(-7.97, 112.63, 500.0), fix_source="cell")
    first = logged_in_page("calltaker")
    second = logged_in_page("dispatcher")
    for page in (first, second):
        page.goto(console.url(f"/calls/{call_id}"))
        expect(page.locator("#live")).to_have_attribute("data-state", "open")
    first.fill("#manual-fix input[name=lat]", "-7.9712")
    first.fill("#manual-fix input[name=lon]", "112.6321")
    first.fill("#manual-fix input[name=note]", "depan masjid")
    first.click("#manual-fix button[type=submit]")
    expect(second.locator("#fixes tbody tr")).to_have_count(2, timeout=1500)
    expect(second.locator("#fixes")).to_contain_text("depan masjid")
    first.locator("#fixes tbody tr", has_text="Menara seluler").locator("button[data-fix-id]").click()
    expect(second.locator("#fixes tr.confirmed")).to_contain_text("Menara seluler", timeout=1500)
    expect(second.locator("#newer-fix")).to_be_visible()  # the manual fix came after the confirmed one
    aml_fix = factories.add_fix(database, call_id, -7.9701, 112.6330, 8.0)
    expect(second.locator(f"#fixes tr.newer[data-fix-id='{aml_fix}']")).to_contain_text("AML")
    expect(second.locator("#fixes tr.confirmed")).to_contain_text("Menara seluler")  # never silently replaced
    shot(second, "call-locations")


def test_console_fits_a_1366x768_screen(logged_in_page, console, database, client, make_token):
    for number in range(8):
        factories.queued_call(database, caller=f"+62812000010{number:02d}", priority=3 + number % 6,
                              fix=(-7.97 + number / 1000, 112.63, 20.0 + number),
                              transcript="Ada orang pingsan di pinggir jalan dan tidak sadarkan diri" if number % 2 else None,
                              prank_suspect=number == 5, repeat_count=number % 3)
    for number in range(3):
        client.post("/api/v1/sos", headers=make_token("alarms:write"), json={
            "reporter": {"phone": f"+6281399990{number:03d}"}, "kind": "panic",
            "location": {"lat": -7.97, "lon": 112.63, "accuracy_m": 10}})
    page = logged_in_page("calltaker")
    expect(page.locator("#queue li")).to_have_count(8)
    expect(page.locator("#alarms li")).to_have_count(3)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366
    shot(page, "queue-1366x768")


def test_language_switches_to_english_and_stays(logged_in_page, console):
    page = logged_in_page("calltaker")
    page.click("header button:has-text('English')")
    expect(page.locator("#queue-title")).to_contain_text("Call queue")
    page.goto(console.url("/callbacks"))
    expect(page.locator("h1")).to_contain_text("Abandoned and silent calls")


def test_abandoned_and_silent_calls_are_listed_for_call_back(logged_in_page, console, database):
    abandoned = factories.queued_call(database, caller="+6281288880001", state="abandoned")
    silent = factories.queued_call(database, caller="+6281288880002", state="completed", silent=True)
    page = logged_in_page("calltaker")
    page.goto(console.url("/callbacks"))
    for call_id in (abandoned, silent):
        expect(page.locator(f"#callbacks tr[data-call-id='{call_id}'] button.callback")).to_be_visible()
    # No manager account in the test settings: the button says why it cannot ring.
    button = page.locator(f"#callbacks tr[data-call-id='{abandoned}'] button.callback")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", re.compile("AMI"))
    shot(page, "callbacks")


def test_situation_map_shows_boundaries_units_and_incidents(logged_in_page, console, database, settings):
    factories.seed_demo_city(database, settings)
    page = logged_in_page("dispatcher")
    page.goto(console.url("/map"))
    # Two kecamatan boundaries plus the demo units: more than a handful of shapes once all have loaded.
    wait_until(page, "() => document.querySelectorAll('#situation-map path.leaflet-interactive').length > 5")
    shot(page, "map")


def test_call_through_fastagi_queues_live_and_pops_when_the_agent_connects(logged_in_page, console, runtime):
    from ivr import channel_vars as var
    from ivr.asterisk_peer import Caller, Channel, Press, Sounds, run_call
    from ivr.server import AgiService

    def place(channel, caller):
        # Prompts take no real time: the peer is told their length instead of finding audio files.
        return run_call("127.0.0.1", agi.port, channel, caller, sounds=Sounds(dirs=[], missing_length=4000), timeout=15.0)

    page = logged_in_page("calltaker", username="agent1", phone_interface="PJSIP/1001")
    expect(page.locator("#live")).to_have_attribute("data-state", "open")
    agi = AgiService(runtime)
    agi.start()
    try:
        record = place(Channel(caller_id="+6281234500001"), Caller(presses=[Press("2")]))
        call_id = record.value(var.SIAGA_CALL_ID)
        row = page.locator(f"#queue li[data-call-id='{call_id}']")
        expect(row).to_contain_text("+6281234500001")
        expect(row).to_contain_text("Kebakaran")  # service choice 2
        place(Channel(script="agent-connected", caller_id="+6281234500001", context="agent-connect", extension="s",
                      answered=True, variables={var.SIAGA_CALL_ID: str(call_id), var.MEMBERINTERFACE: "PJSIP/1001",
                                                var.QUEUENAME: "112"}), Caller())
        page.wait_for_url(re.compile(rf"/calls/{call_id}$"))
        expect(page.locator("#call-state-label")).to_have_text("Dijawab")
    finally:
        agi.stop()
