"""Photos and recorded video from a link: checked, stripped, checksummed, audited, kept like recordings."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from location_link import evidence
from siaga112.db import utcnow
from siaga112.models import AuditEntry, Call, Incident, LinkMedia, LocationFix, LocationLink
from tests.console.factories import queued_call
from tests.location_link.conftest import CALLER, jpeg, phone_post, token_of
from tests.support.console_client import csrf_token, sign_in

MALANG = (-7.9666, 112.6326)


def opened_link(app, client, database, make_token):
    call_id = queued_call(database, caller=CALLER)
    url = client.post(f"/api/v1/calls/{call_id}/location-link", json={"via": "sms"},
                      headers=make_token("calls:write")).get_json()["url"]
    token = token_of(url)
    phone = app.test_client()
    assert phone_post(phone, token, "/start", json={}).status_code == 200
    return call_id, token, phone


def upload(phone, token, data: bytes, exif: bytes | None = None, name="photo.jpg"):
    files = {"photo": (io.BytesIO(data), name)}
    if exif is not None:
        files["exif"] = (io.BytesIO(exif), "exif.bin")
    return phone_post(phone, token, "/photos", data=files, content_type="multipart/form-data")


def test_a_photo_is_kept_with_checksums_and_people_see_it_without_its_metadata(app, client, database, link_settings,
                                                                               make_token, settings):
    from PIL import Image

    call_id, token, phone = opened_link(app, client, database, make_token)
    original = jpeg(gps=MALANG)
    response = upload(phone, token, original)
    assert response.status_code == 201
    with database.session() as session:
        media = session.scalar(select(LinkMedia))
        assert media.call_id == call_id and media.kind == "photo"
        assert media.sha256 == hashlib.sha256(original).hexdigest()
        assert Path(media.path).read_bytes() == original
        assert Path(media.path).is_relative_to(settings.evidence_dir)
        assert media.view_sha256 == hashlib.sha256(Path(media.view_path).read_bytes()).hexdigest()
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "evidence.received")) is not None
    viewer = make_token("calls:read")
    listed = client.get(f"/api/v1/calls/{call_id}/location-link", headers=viewer).get_json()["media"]
    assert [(m["kind"], m["sha256"]) for m in listed] == [("photo", hashlib.sha256(original).hexdigest())]
    shown = client.get(listed[0]["url"], headers=viewer)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    data = shown.data
    shown.close()
    with Image.open(io.BytesIO(data)) as picture:
        assert dict(picture.getexif()) == {}  # no GPS, no owner's name
        assert picture.size == (640, 480)
    with database.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.view")).all()
        assert [v.target for v in views] == [f"media:{listed[0]['id']}"]


def test_the_exif_position_is_used_when_the_browser_gave_none(app, client, database, link_settings, make_token):
    call_id, token, phone = opened_link(app, client, database, make_token)
    # The page resized the photo (its canvas dropped the EXIF) and sent the EXIF block beside it.
    with_gps = jpeg(gps=MALANG)
    from PIL import Image

    with Image.open(io.BytesIO(with_gps)) as picture:
        segment = picture.getexif().tobytes()  # "Exif\\0\\0" and the TIFF block, as a JPEG's APP1 holds them
    assert upload(phone, token, jpeg(extra_exif=False), exif=segment).get_json()["exif_position_used"] is True
    with database.session() as session:
        [fix] = session.scalars(select(LocationFix).where(LocationFix.call_id == call_id)).all()
        assert fix.source == "link" and fix.detail["from"] == "photo exif"
        assert (round(fix.lat, 4), round(fix.lon, 4)) == MALANG
    # Once the browser has sent positions, a photo's EXIF is not used again.
    phone_post(phone, token, "/positions", json={"lat": -7.95, "lon": 112.61, "accuracy_m": 10})
    assert upload(phone, token, with_gps).get_json()["exif_position_used"] is False


@pytest.mark.parametrize("data, name, status", [
    (b"MZ\x90\x00 this is a program, not a photo", "photo.jpg", 415),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "photo.svg", 415),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 2000, "photo.jpg", 415),  # a JPEG header over nothing
    (b"", "photo.jpg", 415),
])
def test_uploads_that_are_not_photos_are_refused_and_nothing_is_kept(app, client, database, link_settings,
                                                                     make_token, data, name, status):
    call_id, token, phone = opened_link(app, client, database, make_token)
    response = upload(phone, token, data, name=name)
    assert response.status_code == status and response.get_json()["error"]["code"] == "not_image"
    with database.session() as session:
        assert session.scalar(select(LinkMedia)) is None


def test_a_gif_is_refused_as_not_a_photo_we_take(app, client, database, link_settings, make_token):
    from PIL import Image

    call_id, token, phone = opened_link(app, client, database, make_token)
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    assert upload(phone, token, out.getvalue()).status_code == 415


def test_a_huge_upload_is_refused_before_it_is_read(app, client, database, link_settings, make_token):
    link_settings.location_link_photo_max_bytes = 200_000
    call_id, token, phone = opened_link(app, client, database, make_token)
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + b"\xff\xd8" + b"\x00" * 5_000_000 + \
        f"\r\n--{boundary}--\r\n".encode()
    response = phone_post(phone, token, "/photos", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    with database.session() as session:
        assert session.scalar(select(LinkMedia)) is None


def test_a_small_file_that_unpacks_to_gigapixels_is_refused(app, client, database, link_settings, make_token):
    from PIL import Image

    call_id, token, phone = opened_link(app, client, database, make_token)
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    assert upload(phone, token, out.getvalue()).status_code == 415


def test_photos_past_the_links_limit_are_refused(app, client, database, link_settings, make_token):
    link_settings.location_link_photos_max = 2
    call_id, token, phone = opened_link(app, client, database, make_token)
    assert [upload(phone, token, jpeg()).status_code for _ in range(3)] == [201, 201, 429]


def test_recorded_video_is_checksummed_and_only_supervisors_play_it(app, client, database, link_settings,
                                                                    make_token):
    call_id, token, phone = opened_link(app, client, database, make_token)
    with database.session() as session:
        link_id = session.scalar(select(LocationLink.id))
    writer = make_token("calls:write")
    video = client.post(f"/api/v1/location-links/{link_id}/videos", json={"content_type": "video/webm;codecs=vp8"},
                        headers=writer)
    assert video.status_code == 201
    media_id = video.get_json()["id"]
    chunks = [b"\x1a\x45\xdf\xa3" + b"a" * 1000, b"b" * 2000]
    for chunk in chunks:
        assert client.post(f"/api/v1/location-links/{link_id}/videos/{media_id}", data=chunk,
                           headers=writer).status_code == 200
    finished = client.post(f"/api/v1/location-links/{link_id}/videos/{media_id}/finish", json={"duration_s": 4.2},
                           headers=writer).get_json()
    assert finished["state"] == "ok" and finished["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert client.post(f"/api/v1/location-links/{link_id}/videos/{media_id}", data=b"more",
                       headers=writer).status_code == 409
    calltaker = app.test_client()
    sign_in(calltaker, database, "calltaker")
    assert calltaker.get(f"/api/v1/evidence/{media_id}/file").status_code == 403
    supervisor = app.test_client()
    sign_in(supervisor, database, "supervisor")
    played = supervisor.get(f"/api/v1/evidence/{media_id}/file")
    data = played.data
    played.close()
    assert played.status_code == 200 and data == b"".join(chunks) and played.mimetype == "video/webm"


def test_legal_hold_is_for_supervisors_and_audited(app, client, database, link_settings, make_token):
    call_id, token, phone = opened_link(app, client, database, make_token)
    media_id = upload(phone, token, jpeg()).get_json()["id"]
    calltaker = app.test_client()
    sign_in(calltaker, database, "calltaker")
    headers = {"X-CSRFToken": csrf_token(calltaker, f"/calls/{call_id}")}
    assert calltaker.post(f"/api/v1/evidence/{media_id}/hold", json={"hold": True}, headers=headers).status_code == 403
    supervisor = app.test_client()
    sign_in(supervisor, database, "supervisor")
    headers = {"X-CSRFToken": csrf_token(supervisor)}
    held = supervisor.post(f"/api/v1/evidence/{media_id}/hold", json={"hold": True, "reason": "court case 12"},
                           headers=headers)
    assert held.status_code == 200 and held.get_json()["legal_hold"] is True
    with database.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "evidence.hold"))
        assert entry.target == f"media:{media_id}" and entry.detail["reason"] == "court case 12"


def test_retention_removes_old_evidence_but_keeps_held_and_open_incident_ones(app, client, database, link_settings,
                                                                             make_token):
    call_id, token, phone = opened_link(app, client, database, make_token)
    ids = [upload(phone, token, jpeg(color=(n * 40, 0, 0))).get_json()["id"] for n in range(3)]
    with database.session() as session:
        for media in session.scalars(select(LinkMedia)):
            media.created_at = utcnow() - timedelta(days=100)
        session.get(LinkMedia, ids[1]).legal_hold = True
    with database.session() as session:
        report = evidence.apply_retention(session, retention_days=90, dry_run=True)
        assert report.removed == [ids[0], ids[2]] and report.kept == {ids[1]: "legal hold"}
    # An open incident about the call keeps all its evidence.
    with database.session() as session:
        incident = Incident(category="fire", status="new", priority=5, lat=-7.97, lon=112.63, description="x")
        session.add(incident)
        session.flush()
        session.get(Call, call_id).incident_id = incident.id
        incident_id = incident.id
    with database.session() as session:
        assert evidence.apply_retention(session, retention_days=90).removed == []
        session.get(Incident, incident_id).status = "closed"
    with database.session() as session:
        report = evidence.apply_retention(session, retention_days=90)
    assert report.removed == [ids[0], ids[2]]
    with database.session() as session:
        gone = session.get(LinkMedia, ids[0])
        assert gone.state == "removed" and not Path(gone.path).exists() and gone.sha256  # the checksum stays
        assert Path(session.get(LinkMedia, ids[1]).path).exists()
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.removed")).all()) == 2
    assert client.get(f"/api/v1/evidence/{ids[0]}/file", headers=make_token("calls:read")).status_code == 410


def test_the_retention_command_lists_and_removes_like_the_recordings_one(app, client, database, link_settings,
                                                                         make_token, cli_runner):
    call_id, token, phone = opened_link(app, client, database, make_token)
    media_id = upload(phone, token, jpeg()).get_json()["id"]
    with database.session() as session:
        session.get(LinkMedia, media_id).created_at = utcnow() - timedelta(days=100)
    dry = cli_runner.invoke(args=["evidence", "retention", "--dry-run"])
    assert dry.exit_code == 0 and f"would remove  evidence {media_id}" in dry.output
    with database.session() as session:
        assert session.get(LinkMedia, media_id).state == "ok"
    done = cli_runner.invoke(args=["evidence", "retention"])
    assert done.exit_code == 0 and "1 removed" in done.output
    with database.session() as session:
        assert session.get(LinkMedia, media_id).state == "removed"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "evidence.removed"))
        assert entry.actor == "cli:retention"


def test_a_video_whose_console_went_away_is_closed_with_its_checksum(app, client, database, link_settings,
                                                                     make_token):
    import os

    call_id, token, phone = opened_link(app, client, database, make_token)
    with database.session() as session:
        link_id = session.scalar(select(LocationLink.id))
    writer = make_token("calls:write")
    media_id = client.post(f"/api/v1/location-links/{link_id}/videos", json={}, headers=writer).get_json()["id"]
    client.post(f"/api/v1/location-links/{link_id}/videos/{media_id}", data=b"x" * 500, headers=writer)
    with database.session() as session:
        assert evidence.finish_abandoned_videos(session) == []  # still arriving: left alone
        media = session.get(LinkMedia, media_id)
        old = (utcnow() - timedelta(minutes=10)).timestamp()
        os.utime(media.path, (old, old))
        media.created_at = utcnow() - timedelta(minutes=10)
    with database.session() as session:
        assert evidence.finish_abandoned_videos(session) == [media_id]
    with database.session() as session:
        media = session.get(LinkMedia, media_id)
        assert media.state == "ok" and media.sha256 == hashlib.sha256(b"x" * 500).hexdigest()
