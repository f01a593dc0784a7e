"""Response headers that keep the console from being framed, sniffed or made to run foreign script.

The console's pages carry no inline script or style attribute: every script is a file under
/static, and data reaches it through data- attributes or `<script type="application/json">`.
So the policy can forbid inline script outright, and an injected `<script>` or `onerror=` in
a caller's name is refused by the browser even if a template ever forgot to escape it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

HSTS_SECONDS = 180 * 24 * 3600


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a Leaflet tile URL template ("https://{s}.tile.example/{z}/..." -> https://*.tile.example).

    Only the scheme and host are kept; a `{s}` subdomain placeholder becomes a wildcard label.
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.replace("{s}", "*")
    if "{" in host or "}" in host or " " in host or ";" in host:
        return None
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str = "") -> str:
    """The console's policy: everything from this site, no inline script or style attribute, no framing."""
    images = ["'self'", "data:", "blob:"]
    tiles = tile_source(tile_url)
    if tiles:
        images.append(tiles)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def served_over_https(public_base_url: str) -> bool:
    """Whether this request reached us over HTTPS, directly or as the public address says."""
    return request.is_secure or public_base_url.lower().startswith("https://")


def add_security_headers(response: Response) -> Response:
    config = current_app.config
    response.headers.setdefault("Content-Security-Policy", config["SIAGA112_CSP"])
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if served_over_https(config["SIAGA112_PUBLIC_BASE_URL"]):
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response


def init_app(app: Flask, *, tile_url: str = "", public_base_url: str = "") -> None:
    app.config.setdefault("SIAGA112_CSP", content_security_policy(tile_url))
    app.config.setdefault("SIAGA112_PUBLIC_BASE_URL", public_base_url)
    app.after_request(add_security_headers)
