"""A location link end to end in Chromium: a call-taker's console and a caller's phone, two browser contexts.

The phone has a fake position (the context's geolocation) and a fake camera (Chromium's fake
media device); the console is a signed-in call-taker. The link goes out through the local Twilio
recorder, the phone opens it, and the position, a photo and live video reach the call view.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from siaga112.models import LinkMedia
from tests.console import browser
from tests.console.browser import shot
from tests.console.factories import queued_call
from tests.location_link.conftest import CALLER, jpeg

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              # Host candidates as plain addresses: both browsers are on this machine, with no mDNS responder.
              "--disable-features=WebRtcHideLocalIpsWithMdns"]
PHONE = {"width": 360, "height": 740}
POSITION = {"latitude": -7.9666, "longitude": 112.6326, "accuracy": 12}
SHARED_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def chromium():
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=browser.CHROMIUM, headless=True,
                                              args=browser.CHROMIUM_ARGS + MEDIA_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def console(runtime, twilio_recorder):  # noqa: F811
    with browser.LiveServer(runtime, {"SSE_HEARTBEAT_SECONDS": 1.0}) as server:
        runtime.settings.public_base_url = server.url("").rstrip("/")
        yield server


@pytest.fixture
def contexts(chromium):
    made, errors = [], []

    def make(**options):
        context = chromium.new_context(**options)
        context.set_default_timeout(browser.WAIT_MS)
        made.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        return page

    yield make
    for context in made:
        context.close()
    assert not errors, "script errors:\n" + "\n".join(errors)


def call_taker(contexts, console, database):
    page = contexts(viewport=browser.VIEWPORT)
    browser.log_in(page, console, browser.create_user(database, "calltaker"))
    return page


def phone(contexts):
    return contexts(viewport=PHONE, geolocation=POSITION, permissions=["geolocation", "camera"], locale="id-ID",
                    has_touch=True)


def sent_link(twilio_recorder, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in twilio_recorder.messages:
            found = re.search(r"https?://\S+/l/[A-Za-z0-9_-]+", message["Body"])
            if found:
                return found.group(0)
        time.sleep(0.02)
    raise AssertionError("no link was texted")


def test_the_callers_position_photo_and_live_video_reach_the_call_view(console, contexts, database, twilio_recorder):
    call_id = queued_call(database, caller=CALLER, fix=None)
    desk = call_taker(contexts, console, database)
    desk.goto(console.url(f"/calls/{call_id}"))
    desk.wait_for_selector("body[data-ready]")
    expect(desk.locator("#live")).to_have_attribute("data-state", "open")
    expect(desk.locator("#ll-links li.empty")).to_be_visible()

    desk.keyboard.press("l")  # one key sends the link
    url = sent_link(twilio_recorder)
    assert twilio_recorder.messages[0]["To"] == CALLER
    expect(desk.locator("#ll-links li[data-state=sent]")).to_be_visible()
    expect(desk.locator("#ll-url-text")).to_have_text(url)

    caller = phone(contexts)
    caller.goto(url)
    expect(caller.locator("#agree")).to_be_visible()
    shot(caller, "location-link-phone-consent")
    with caller.expect_request(re.compile(r"/positions$")) as shared:
        caller.click("#agree")
    shared.value  # noqa: B018  (the phone has sent its position: the clock starts)
    started = time.monotonic()
    expect(desk.locator("#fixes tbody tr", has_text="Tautan lokasi")).to_be_visible(timeout=int(SHARED_WITHIN_S * 1000))
    expect(desk.locator("#call-map path.leaflet-interactive").first).to_be_visible(
        timeout=max(1, int((SHARED_WITHIN_S - (time.monotonic() - started)) * 1000)))
    shown_after = time.monotonic() - started
    assert shown_after < SHARED_WITHIN_S
    expect(desk.locator("#fixes tbody tr", has_text="Tautan lokasi")).to_contain_text("-7.966600, 112.632600")
    expect(caller.locator("#status")).to_contain_text("Lokasi terkirim")
    expect(desk.locator("#ll-links li[data-state=opened]")).to_be_visible()

    caller.set_input_files("#gallery", files=[{"name": "rumah.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    expect(caller.locator("#thumbs img")).to_have_count(1)
    photo = desk.locator("#ll-photos img").first
    expect(photo).to_be_visible()
    browser.wait_until(desk, "() => document.querySelector('#ll-photos img')?.naturalWidth > 0")

    desk.click("#ll-video-ask")
    expect(desk.locator("#ll-video-state")).not_to_be_empty()
    expect(caller.locator("#video-ask")).to_be_visible()
    shot(caller, "location-link-phone-video-asked")
    caller.click("#video-start")
    browser.wait_until(desk, "() => document.getElementById('ll-video').videoWidth > 0", timeout_ms=15000)
    first = desk.evaluate("() => document.getElementById('ll-video').currentTime")
    browser.wait_until(desk, f"() => document.getElementById('ll-video').currentTime > {first} + 0.5", timeout_ms=10000)
    size = desk.evaluate("() => { const v = document.getElementById('ll-video'); return [v.videoWidth, v.videoHeight]; }")
    assert size[0] > 0 and size[1] > 0
    shot(desk, "location-link-console-live")
    shot(caller, "location-link-phone-live")

    desk.click("#ll-video-stop")
    expect(caller.locator("#video-on")).to_be_hidden(timeout=10000)

    def recorded():
        with database.session() as session:
            return session.scalar(select(LinkMedia).where(LinkMedia.kind == "video", LinkMedia.state == "ok"))

    deadline = time.monotonic() + 10
    while (video := recorded()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert video is not None and video.size_bytes > 0 and len(video.sha256) == 64
    print(f"position on the console's map {shown_after:.2f} s after the phone sent it; "
          f"video {size[0]}x{size[1]}, recorded {video.size_bytes} bytes")


def test_a_second_phone_opening_the_same_link_is_turned_away(console, contexts, database, twilio_recorder):
    call_id = queued_call(database, caller=CALLER)
    desk = call_taker(contexts, console, database)
    desk.goto(console.url(f"/calls/{call_id}"))
    desk.wait_for_selector("body[data-ready]")
    desk.click("#ll-send-sms")
    url = sent_link(twilio_recorder)
    first = phone(contexts)
    first.goto(url)
    first.click("#agree")
    expect(first.locator("#status")).to_contain_text("Lokasi terkirim")
    second = phone(contexts)
    second.goto(url)
    expect(second.locator("#problem")).to_have_attribute("data-code", "taken")
    expect(second.locator("#agree")).to_have_count(0)
    shot(second, "location-link-phone-taken")
