"""Location links through the API: sent by Twilio, opened once, positions as fixes, bad input refused."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from siaga112.db import utcnow
from siaga112.models import AuditEntry, LocationFix, LocationLink
from tests.console.factories import queued_call
from tests.location_link.conftest import CALLER, PUBLIC, phone_post, token_of


@pytest.fixture
def sender(make_token):
    return make_token("calls:write")


def send_link(client, headers, call_id: int, via: str = "sms"):
    return client.post(f"/api/v1/calls/{call_id}/location-link", json={"via": via}, headers=headers)


def opened(app, client, sender, database, **call):
    """A call, a link texted for it, and a phone that agreed: (call_id, token, phone client)."""
    call_id = queued_call(database, caller=CALLER, **call)
    response = send_link(client, sender, call_id)
    token = token_of(response.get_json()["url"])
    phone = app.test_client()
    assert phone_post(phone, token, "/start", json={}).status_code == 200
    return call_id, token, phone


def test_a_link_is_texted_to_the_caller_and_only_its_hash_is_kept(client, database, link_settings, sender,
                                                                   twilio_recorder):
    call_id = queued_call(database, caller=CALLER)
    response = send_link(client, sender, call_id)
    assert response.status_code == 201
    body = response.get_json()
    assert body["url"].startswith(f"{PUBLIC}/l/") and body["sent"] is True
    token = token_of(body["url"])
    assert len(token) >= 32
    [message] = twilio_recorder.messages
    assert message["To"] == CALLER and message["From"] == "+15005550006" and body["url"] in message["Body"]
    with database.session() as session:
        link = session.scalar(select(LocationLink))
        assert link.call_id == call_id and link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert timedelta(minutes=29) < link.expires_at - utcnow() <= timedelta(minutes=30)
        assert body["expires_at"].startswith(link.expires_at.strftime("%Y-%m-%dT%H:%M"))
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "location_link.sent"))
        assert audit.target == f"call:{call_id}" and token not in str(audit.detail)


def test_whatsapp_goes_from_the_configured_sender_or_is_refused_without_one(client, database, link_settings, sender,
                                                                           twilio_recorder):
    call_id = queued_call(database, caller=CALLER)
    refused = send_link(client, sender, call_id, via="whatsapp")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "whatsapp_not_configured"
    link_settings.location_link_whatsapp_from = "+14155238886"
    assert send_link(client, sender, call_id, via="whatsapp").status_code == 201
    [message] = twilio_recorder.messages
    assert (message["To"], message["From"]) == (f"whatsapp:{CALLER}", "whatsapp:+14155238886")


@pytest.mark.parametrize("problem, code", [("withheld", "no_number"), ("no_public_url", "no_public_url"),
                                           ("bad_via", "invalid_via")])
def test_a_link_that_cannot_be_sent_is_refused_clearly(client, database, link_settings, sender, problem, code):
    call_id = queued_call(database, caller=None if problem == "withheld" else CALLER)
    if problem == "no_public_url":
        link_settings.public_base_url = ""
    response = send_link(client, sender, call_id, via="pigeon" if problem == "bad_via" else "sms")
    assert response.status_code in (400, 409) and response.get_json()["error"]["code"] == code


def test_a_twilio_failure_still_gives_the_url_to_read_out(client, database, link_settings, sender, twilio_recorder):
    twilio_recorder.fail_next(1, status=400, code=21211)
    response = send_link(client, sender, queued_call(database, caller=CALLER))
    assert response.status_code == 201
    body = response.get_json()
    assert body["sent"] is False and "21211" in body["error"] and body["url"].startswith(PUBLIC)


def test_sending_needs_calls_write(client, database, link_settings, make_token):
    call_id = queued_call(database, caller=CALLER)
    assert send_link(client, {}, call_id).status_code == 401
    assert send_link(client, make_token("calls:read"), call_id).status_code == 403


def test_the_page_reveals_nothing_of_the_call_and_carries_a_strict_policy(app, client, database, link_settings,
                                                                           sender):
    call_id = queued_call(database, caller=CALLER, caller_name="Siti Rahayu", transcript="Rumah saya terbakar")
    token = token_of(send_link(client, sender, call_id).get_json()["url"])
    page = app.test_client().get(f"/l/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for secret in (CALLER, "Siti", "terbakar", str(call_id) + "<", "/calls/"):
        assert secret not in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and page.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in html and "onclick" not in html  # no inline script at all
    english = app.test_client().get(f"/l/{token}?lang=en").get_data(as_text=True)
    assert "Share your location" in english and "Bagikan lokasi" in html


def test_the_first_phone_to_agree_holds_the_link_and_another_is_turned_away(app, client, database, link_settings,
                                                                            sender):
    call_id, token, phone = opened(app, client, sender, database)
    assert phone_post(phone, token, "/start", json={}).status_code == 200  # the same phone again: a reload
    other = app.test_client()
    refused = phone_post(other, token, "/start", json={})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "taken"
    assert other.get(f"/l/{token}").status_code == 403
    assert phone_post(other, token, "/positions", json={"lat": -7.97, "lon": 112.63}).status_code == 403
    with database.session() as session:
        assert session.scalar(select(LocationFix).where(LocationFix.call_id == call_id)) is None


def test_a_link_preview_fetching_the_page_does_not_bind_it(app, client, database, link_settings, sender):
    call_id = queued_call(database, caller=CALLER)
    token = token_of(send_link(client, sender, call_id).get_json()["url"])
    assert app.test_client().get(f"/l/{token}").status_code == 200  # WhatsApp's preview robot
    assert phone_post(app.test_client(), token, "/start", json={}).status_code == 200


def test_each_position_is_a_link_fix_beside_the_others_and_the_confirmed_one_stays(app, client, database,
                                                                                   link_settings, sender, make_token):
    call_id, token, phone = opened(app, client, sender, database, fix=(-7.98, 112.62, 900.0), fix_source="cell")
    with database.session() as session:
        cell = session.scalar(select(LocationFix).where(LocationFix.call_id == call_id))
        from siaga112.models import Call
        session.get(Call, call_id).confirmed_fix_id = cell.id
    response = phone_post(phone, token, "/positions", json={"lat": -7.9666, "lon": 112.6326, "accuracy_m": 8.5,
                                                            "timestamp_ms": utcnow().timestamp() * 1000})
    assert response.status_code == 201
    call = client.get(f"/api/v1/calls/{call_id}", headers=make_token("calls:read")).get_json()
    assert call["location"]["source"] == "cell"  # confirmed by the call-taker: not swapped
    with database.session() as session:
        fixes = list(session.scalars(select(LocationFix).where(LocationFix.call_id == call_id)
                                     .order_by(LocationFix.id)))
    assert [f.source for f in fixes] == ["cell", "link"]
    assert (fixes[1].lat, fixes[1].lon, fixes[1].accuracy_m) == (-7.9666, 112.6326, 8.5)
    assert fixes[1].observed_at is not None and fixes[1].detail["link_id"]


def test_an_unconfirmed_call_shows_the_more_accurate_link_position(app, client, database, link_settings, sender,
                                                                   make_token):
    call_id, token, phone = opened(app, client, sender, database, fix=(-7.98, 112.62, 900.0), fix_source="cell")
    phone_post(phone, token, "/positions", json={"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12})
    call = client.get(f"/api/v1/calls/{call_id}", headers=make_token("calls:read")).get_json()
    assert call["location"] == {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12.0, "source": "link"}


@pytest.mark.parametrize("body", [
    {"lat": 91, "lon": 112.6}, {"lat": -7.9, "lon": 181}, {"lat": 0, "lon": 0}, {"lat": "NaN", "lon": 112.6},
    {"lat": True, "lon": 112.6}, {"lon": 112.6}, {"lat": -7.9, "lon": 112.6, "accuracy_m": -5},
    {"lat": -7.9, "lon": 112.6, "accuracy_m": 1e9},
])
def test_impossible_positions_are_refused_and_change_nothing(app, client, database, link_settings, sender, body):
    call_id, token, phone = opened(app, client, sender, database)
    response = phone_post(phone, token, "/positions", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_location", "invalid_accuracy")
    with database.session() as session:
        assert session.scalar(select(LocationFix).where(LocationFix.call_id == call_id)) is None


def test_forged_expired_and_closed_links_are_refused(app, client, database, link_settings, sender):
    call_id, token, phone = opened(app, client, sender, database)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert app.test_client().get(f"/l/{forged}").status_code == 404
    assert phone_post(app.test_client(), forged, "/start", json={}).status_code == 404
    with database.session() as session:
        link = session.scalar(select(LocationLink))
        link.expires_at = utcnow() - timedelta(seconds=1)
    expired = phone_post(phone, token, "/positions", json={"lat": -7.97, "lon": 112.63})
    assert expired.status_code == 410 and expired.get_json()["error"]["code"] == "expired"
    assert "kedaluwarsa" in phone.get(f"/l/{token}").get_data(as_text=True)
    # A link the call-taker ended is refused the same way.
    second = token_of(send_link(client, sender, call_id).get_json()["url"])
    with database.session() as session:
        link_id = session.scalar(select(LocationLink.id).order_by(LocationLink.id.desc()))
    assert client.post(f"/api/v1/location-links/{link_id}/close", headers=sender).status_code == 200
    assert phone_post(app.test_client(), second, "/start", json={}).status_code == 410


def test_many_forged_tokens_from_one_address_are_slowed_down(app, database, link_settings, monkeypatch):
    from location_link import phone_views

    monkeypatch.setattr(phone_views, "misses", phone_views.MissLimiter(limit=3))
    phone = app.test_client()
    statuses = [phone.get(f"/l/forged-token-{n}").status_code for n in range(5)]
    assert statuses == [404, 404, 404, 429, 429]


def test_a_phone_past_its_budget_is_told_to_slow_down(app, client, database, link_settings, sender):
    link_settings.location_link_requests_per_minute = 4
    call_id, token, phone = opened(app, client, sender, database)  # the start counts once
    statuses = [phone_post(phone, token, "/positions", json={"lat": -7.97, "lon": 112.63 + n / 1000}).status_code
                for n in range(5)]
    assert statuses == [201, 201, 201, 429, 429]


def test_posts_without_the_pages_header_are_refused(app, client, database, link_settings, sender):
    call_id, token, phone = opened(app, client, sender, database)
    response = phone.post(f"/l/{token}/positions", json={"lat": -7.97, "lon": 112.63})
    assert response.status_code == 400


def test_one_calls_link_reaches_nothing_of_anothers(app, client, database, link_settings, sender):
    first_call, first_token, first_phone = opened(app, client, sender, database)
    second_call, second_token, second_phone = opened(app, client, sender, database)
    # The first phone's cookie is for its own link's address only: on the other link it holds nothing.
    assert phone_post(first_phone, second_token, "/positions", json={"lat": -7.97, "lon": 112.63}).status_code == 403
    with database.session() as session:
        links = {link.call_id: link.id for link in session.scalars(select(LocationLink))}
    client.post(f"/api/v1/location-links/{links[second_call]}/signals", json={"kind": "request"}, headers=sender)
    assert first_phone.get(f"/l/{first_token}/signals").get_json()["signals"] == []
    assert [s["kind"] for s in second_phone.get(f"/l/{second_token}/signals").get_json()["signals"]] == ["request"]


def test_signalling_carries_the_request_the_offer_and_the_answer(app, client, database, link_settings, sender):
    call_id, token, phone = opened(app, client, sender, database)
    overview = client.get(f"/api/v1/calls/{call_id}/location-link", headers=sender).get_json()
    [link] = overview["links"]
    assert link["state"] == "opened"
    request_id = client.post(f"/api/v1/location-links/{link['id']}/signals", json={"kind": "request"},
                             headers=sender).get_json()["id"]
    assert phone.get(f"/l/{token}/signals?after=0").get_json()["signals"][0]["kind"] == "request"
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
    assert phone_post(phone, token, "/signals", json={"kind": "offer", "sdp": sdp}).status_code == 201
    assert phone_post(phone, token, "/signals", json={"kind": "answer", "sdp": sdp}).status_code == 400
    assert phone_post(phone, token, "/signals", json={"kind": "offer", "sdp": "<script>"}).status_code == 400
    seen = client.get(f"/api/v1/location-links/{link['id']}/signals?after={request_id}", headers=sender).get_json()
    assert [(s["kind"], s["body"]["sdp"]) for s in seen["signals"]] == [("offer", sdp)]
    assert client.post(f"/api/v1/location-links/{link['id']}/signals", json={"kind": "offer", "sdp": sdp},
                       headers=sender).status_code == 400
