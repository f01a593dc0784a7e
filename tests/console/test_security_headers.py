"""Headers on every response: no framing, no sniffing, no inline script, HSTS only over HTTPS."""

from __future__ import annotations

import pytest

from siaga112.web_headers import content_security_policy, tile_source


@pytest.mark.parametrize("path", ["/login", "/api/v1/calls", "/healthz", "/static/console.css"])
def test_every_response_forbids_framing_sniffing_and_inline_script(client, path):
    response = client.get(path)
    response.close()  # a static file is streamed
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP on loopback


def test_hsts_is_sent_when_the_console_is_reached_over_https(client):
    response = client.get("/login", base_url="https://console.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_hsts_is_sent_when_the_public_address_is_https(runtime):
    from center.web import create_app

    runtime.settings.public_base_url = "https://112.example.go.id"
    response = create_app(runtime, {"TESTING": True}).test_client().get("/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("template, source", [
    ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
    ("http://tiles.local:8080/{z}/{x}/{y}.png", "http://tiles.local:8080"),
    ("", None),
    ("javascript:alert(1)", None),
    ("https://x.example; script-src *", None),
])
def test_the_map_tile_server_is_the_only_foreign_image_source(template, source):
    assert tile_source(template) == source
    policy = content_security_policy(template)
    if source:
        assert f"img-src 'self' data: blob: {source};" in policy
    assert "script-src 'self';" in policy
