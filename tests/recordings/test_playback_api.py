"""Playback for supervisors: range requests, refusals, a listen in the audit log, legal hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings.after_call import after_call
from siaga112.models import AuditEntry, Recording
from tests.recordings.factories import add_call, add_recording, recording, write_tone
from tests.support.console_client import csrf_token, sign_in


@dataclass
class Fetched:
    status: int
    headers: dict
    data: bytes


def fetch(client, url, **options) -> Fetched:
    """GET and read the whole body, closing the response (the file it streams from)."""
    response = client.get(url, **options)
    try:
        return Fetched(response.status_code, dict(response.headers), response.get_data())
    finally:
        response.close()


@pytest.fixture
def played(database, runtime, settings):
    """A registered full-call recording with its browser copy and a transcript: its id."""
    call_id = add_call(database)
    path = write_tone(Path(settings.recordings_dir) / f"call-{call_id}-full.wav", 3.0)
    recording_id = add_recording(database, call_id, path, transcript="ada kebakaran", transcript_status="done",
                                 transcript_words=[{"word": "ada", "start": 0.2, "end": 0.5, "conf": 1.0},
                                                   {"word": "kebakaran", "start": 0.6, "end": 1.3, "conf": 0.9}])
    after_call(runtime, call_id)
    return recording_id


def listens(database):
    with database.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.listen")))


@pytest.mark.parametrize("role, status", [
    ("calltaker", 403), ("dispatcher", 403), ("supervisor", 200), ("admin", 200), (None, 401),
])
def test_only_supervisors_and_admins_may_listen(client, database, played, role, status):
    if role:
        sign_in(client, database, role)

    assert fetch(client, f"/api/v1/recordings/{played}/audio").status == status
    assert client.get(f"/api/v1/recordings/{played}").status_code == status
    assert len(listens(database)) == (1 if status == 200 else 0)


def test_range_request_gets_206_with_content_range_of_the_browser_copy(client, database, played):
    sign_in(client, database, "supervisor")
    copy = Path(recording(database, played).browser_path)
    size = copy.stat().st_size

    part = fetch(client, f"/api/v1/recordings/{played}/audio", headers={"Range": "bytes=100-199"})

    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert part.headers["Content-Type"] == "audio/ogg"
    assert part.data == copy.read_bytes()[100:200]
    assert part.headers["Accept-Ranges"] == "bytes"


def test_each_play_is_one_listen_in_the_audit_log_and_seeking_adds_none(client, database, played):
    user_id, username = sign_in(client, database, "supervisor")

    whole = fetch(client, f"/api/v1/recordings/{played}/audio")
    fetch(client, f"/api/v1/recordings/{played}/audio", headers={"Range": "bytes=0-"})
    fetch(client, f"/api/v1/recordings/{played}/audio", headers={"Range": "bytes=2000-"})

    assert whole.status == 200 and whole.data == Path(recording(database, played).browser_path).read_bytes()
    entries = listens(database)
    assert len(entries) == 2
    for entry in entries:
        assert (entry.actor, entry.actor_id, entry.target) == (username, user_id, f"recording:{played}")
        assert entry.detail["copy"] == "browser" and entry.at is not None
    assert [e.detail["range"] for e in entries] == [None, "bytes=0-"]


def test_recording_without_a_copy_is_served_from_the_original(client, database, settings):
    call_id = add_call(database)
    path = write_tone(Path(settings.recordings_dir) / f"call-{call_id}-statement.wav", 1.0)
    recording_id = add_recording(database, call_id, path, kind="statement", state="ok")
    sign_in(client, database, "supervisor")

    got = fetch(client, f"/api/v1/recordings/{recording_id}/audio")

    assert (got.status, got.headers["Content-Type"], got.data) == (200, "audio/wav", path.read_bytes())
    assert listens(database)[0].detail["copy"] == "original"


def test_metadata_lists_a_calls_recordings_and_shows_the_transcript_with_words(client, database, played):
    sign_in(client, database, "supervisor")
    row = recording(database, played)

    listing = client.get(f"/api/v1/recordings?call_id={row.call_id}").get_json()["recordings"]
    shown = client.get(f"/api/v1/recordings/{played}").get_json()

    assert [r["id"] for r in listing] == [played]
    assert shown["sha256"] == row.sha256 and shown["size_bytes"] == row.size_bytes == 44 + 3 * 16000
    assert (shown["state"], shown["duration_s"], shown["browser_copy"]) == ("ok", 3.0, True)
    assert shown["audio_url"] == f"/api/v1/recordings/{played}/audio"
    assert (shown["transcript"], shown["transcript_status"]) == ("ada kebakaran", "done")
    assert [w["word"] for w in shown["words"]] == ["ada", "kebakaran"]
    assert shown["created_at"].endswith("Z")
    assert client.get("/api/v1/recordings").status_code == 400


@pytest.mark.parametrize("state, status, code", [("removed", 410, "removed"), ("missing", 404, "no_audio")])
def test_recording_without_audio_is_refused_with_a_reason(client, database, played, state, status, code):
    with database.session() as session:
        session.get(Recording, played).state = state
    sign_in(client, database, "supervisor")

    response = client.get(f"/api/v1/recordings/{played}/audio")

    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert listens(database) == []


def test_supervisor_sets_and_clears_a_legal_hold_and_both_are_audited(client, database, played):
    _user_id, username = sign_in(client, database, "supervisor")
    token = csrf_token(client)

    held = client.post(f"/api/v1/recordings/{played}/hold", json={"hold": True, "reason": "court order 12/2026"},
                       headers={"X-CSRFToken": token})
    assert held.status_code == 200 and held.get_json()["legal_hold"] is True
    assert recording(database, played).legal_hold is True
    released = client.post(f"/api/v1/recordings/{played}/hold", json={"hold": False}, headers={"X-CSRFToken": token})
    assert released.get_json()["legal_hold"] is False

    with database.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
            ("recording.hold", "recording.release"))).order_by(AuditEntry.id)))
    assert [(e.actor, e.action, e.detail["reason"]) for e in entries] == [
        (username, "recording.hold", "court order 12/2026"), (username, "recording.release", None)]


def test_call_taker_cannot_set_a_legal_hold(client, database, played):
    sign_in(client, database, "calltaker")

    response = client.post(f"/api/v1/recordings/{played}/hold", json={"hold": True},
                           headers={"X-CSRFToken": csrf_token(client, "/")})

    assert response.status_code == 403
    assert recording(database, played).legal_hold is False


def test_hold_without_a_yes_or_no_is_refused(client, database, played, make_token):
    response = client.post(f"/api/v1/recordings/{played}/hold", json={"hold": "yes"}, headers=make_token("admin"))

    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_hold")


def test_asking_only_for_the_headers_is_not_a_listen(client, database, played):
    sign_in(client, database, "supervisor")

    response = client.head(f"/api/v1/recordings/{played}/audio")
    response.close()

    assert response.status_code == 200 and int(response.headers["Content-Length"]) > 0
    assert listens(database) == []
