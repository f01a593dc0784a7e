"""Supervisors in a real Chromium: the floor at 1366x768, a recording played with seeking while its
transcript follows, the listen in the audit log, and a call-taker refused the recording."""

from __future__ import annotations

import math
import struct
import wave
from datetime import timedelta
from pathlib import Path

import pytest

from siaga112.db import utcnow
from siaga112.models import Alarm, Call, Incident, Recording, User
from tests.console import browser

pytestmark = pytest.mark.browser

WORDS = [
    {"word": "tolong", "start": 0.2, "end": 0.6, "conf": 0.95},
    {"word": "rumah", "start": 0.8, "end": 1.2, "conf": 0.9},
    {"word": "saya", "start": 1.3, "end": 1.6, "conf": 0.4},
    {"word": "terbakar", "start": 2.0, "end": 2.6, "conf": 0.97},
    {"word": "cepat", "start": 3.0, "end": 3.5, "conf": 0.88},
]


def write_wav(path: Path, seconds: float = 4.0, rate: int = 8000) -> None:
    """A small real recording as Asterisk writes them: 8 kHz, mono, 16-bit PCM (a 440 Hz tone)."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


@pytest.fixture
def recording_id(runtime, database) -> int:
    path = Path(runtime.settings.recordings_dir) / "1795346546.1-full.wav"
    write_wav(path)
    with database.session() as session:
        call = Call(uniqueid="1795346546.1", caller="+6281234567890", caller_name="Budi <b>Santoso</b>",
                    state="completed", started_at=utcnow() - timedelta(minutes=30))
        session.add(call)
        session.flush()
        recording = Recording(call_id=call.id, kind="full", path=str(path), format="wav", state="ok",
                              duration_s=4.0, size_bytes=path.stat().st_size, registered_at=utcnow(),
                              transcript=" ".join(w["word"] for w in WORDS), transcript_status="done",
                              transcript_words=WORDS)
        session.add(recording)
        session.flush()
        return recording.id


def audio_api_present(console) -> bool:
    return any(rule.rule == "/api/v1/recordings/<int:recording_id>/audio" or
               (rule.rule.startswith("/api/v1/recordings/") and rule.rule.endswith("/audio"))
               for rule in console.app.url_map.iter_rules())


def test_floor_fits_a_1366x768_screen(console, logged_in_page, database):
    now = utcnow()
    with database.session() as session:
        ani = User(username="ani", display_name="Ani Lestari", role="calltaker", password_hash="x",
                   status="on_call", status_at=now, phone_interface="PJSIP/1001")
        session.add_all([ani, User(username="budi", display_name="Budi", role="calltaker", password_hash="x",
                                   status="available", status_at=now)])
        session.flush()
        for i, delay in enumerate([4, 6, 8, 9, 12, 16, 22, 7, 5, 30]):
            queued = now - timedelta(minutes=10 + i)
            # Queue first: the caller joins the queue as Asterisk answers, so the answer time
            # (counted from Asterisk's answer) is the wait in the queue.
            session.add(Call(uniqueid=f"c{i}", caller="+628123", state="completed", started_at=queued,
                             queued_at=queued, answered_at=queued + timedelta(seconds=delay), prank_suspect=i == 3))
        session.add(Call(uniqueid="live", caller="+628124", state="answered", agent_id=ani.id,
                         agent_interface="PJSIP/1001", started_at=now, queued_at=now, answered_at=now))
        session.add(Call(uniqueid="q", caller="+628125", state="queued", started_at=now - timedelta(seconds=50),
                         queued_at=now - timedelta(seconds=42)))
        for category, kecamatan in [("fire", "Klojen"), ("medical", "Lowokwaru"), ("fire", "Blimbing"), ("crime", None)]:
            session.add(Incident(category=category, kecamatan=kecamatan, created_at=now - timedelta(minutes=5)))
        session.add(Alarm(source="panel", kind="panic", state="open"))

    page = logged_in_page("supervisor", phone_interface="PJSIP/2001")
    page.goto(console.url("/supervisor/?period=24h"))
    page.wait_for_selector(".tiles")

    assert page.locator('[data-stat="waiting"] .n').inner_text() == "1"
    assert page.locator('[data-stat="within-10"] .n').inner_text() == "63.6%"  # 7 of 11
    assert page.locator('tr[data-user="ani"] form.monitor button').count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= browser.VIEWPORT["width"]
    assert page.locator(".sv-grid").bounding_box()["y"] < browser.VIEWPORT["height"]
    browser.shot(page, "supervisor-floor")
    shown = page.locator('[data-stat="longest-wait"] .n').inner_text()
    # The floor redraws its tiles on live events: a tile may be absent for a moment between draws.
    browser.wait_until(page, "shown => { const n = document.querySelector('[data-stat=\"longest-wait\"] .n');"
                           " return n !== null && n.textContent !== shown; }", arg=shown)

    from siaga112 import events  # a second caller joins the queue: the floor follows without a reload

    with database.session() as session:
        fresh = Call(uniqueid="q2", caller="+628126", state="queued", started_at=utcnow(), queued_at=utcnow())
        session.add(fresh)
        session.flush()
        events.publish(session, "call.queued", {"id": fresh.id})
    browser.wait_until(page, "() => document.querySelector('[data-stat=\"waiting\"] .n')?.textContent === '2'")


def test_supervisor_plays_a_recording_with_seeking_and_the_listen_is_audited(console, logged_in_page, recording_id):
    if not audio_api_present(console):
        pytest.skip("the recordings API (GET /api/v1/recordings/ID/audio) is not deployed in this tree")
    page = logged_in_page("supervisor")
    partial = []
    page.on("response", lambda r: partial.append(r.status) if r.url.endswith(f"/recordings/{recording_id}/audio") else None)

    page.goto(console.url("/supervisor/recordings?number=0812"))
    with page.expect_navigation():
        page.click(f'tr[data-recording="{recording_id}"] a')
    # Until the player page has its <audio>, there is nothing to ask about.
    browser.wait_until(page, "() => { const audio = document.getElementById('audio');"
                           " return audio !== null && audio.readyState >= 1 && audio.duration > 3.5; }")
    assert "Budi <b>Santoso</b>" in page.inner_text("main")  # the caller's name shown as text

    page.evaluate("document.getElementById('audio').currentTime = 2.3")
    browser.wait_until(page, "() => document.getElementById('words').dataset.current === '3'")
    assert page.locator("#words span.current").inner_text() == "terbakar"

    page.click('#words span[data-index="1"]')  # a click on a word seeks to it
    browser.wait_until(page, "() => document.getElementById('words').dataset.current === '1' || "
                           "document.getElementById('words').dataset.current === '2'")
    assert 206 in partial, f"no range request answered 206: {partial}"
    browser.shot(page, "supervisor-recording")

    page.goto(console.url("/supervisor/audit"))
    row = page.locator(f'tr[data-target="recording:{recording_id}"]').first
    row.wait_for()
    assert row.get_attribute("data-action").startswith("recording.")
    browser.shot(page, "supervisor-audit")


def test_a_call_taker_is_refused_the_recording_url(console, logged_in_page, recording_id):
    page = logged_in_page("calltaker")
    player = page.goto(console.url(f"/supervisor/recordings/{recording_id}"))
    assert player.status == 403
    assert page.goto(console.url("/supervisor/audit")).status == 403
    if audio_api_present(console):
        assert page.request.get(console.url(f"/api/v1/recordings/{recording_id}/audio")).status == 403


def test_admin_and_supervisor_pages_render_at_1366x768(console, logged_in_page, database, recording_id):
    from siaga112.models import Reporter

    with database.session() as session:
        session.add(Reporter(phone="+6281111111111", strikes=3, blocked=True, blocked_at=utcnow(),
                             appeal_state="pending", appeal_text="<script>alert(1)</script> anak saya", appeal_at=utcnow()))
    page = logged_in_page("admin", username="root")
    for path, name in [("/supervisor/admin/users", "admin-users"), ("/supervisor/admin/sites", "admin-sites"),
                       ("/supervisor/admin/units", "admin-units"), ("/supervisor/recordings", "supervisor-recordings"),
                       ("/supervisor/reporters", "supervisor-reporters"), ("/supervisor/exports", "supervisor-exports")]:
        response = page.goto(console.url(path))
        assert response.status == 200, path
        assert page.evaluate("document.documentElement.scrollWidth") <= browser.VIEWPORT["width"], path
        browser.shot(page, name)
    page.goto(console.url("/supervisor/reporters"))
    assert "<script>alert(1)</script> anak saya" in page.inner_text("table.appeals")  # shown as text
