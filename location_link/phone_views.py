"""The caller's side: the page a location link opens, and the few requests its script makes.

Nobody signs in here: the token in the address and, once the caller agrees, the cookie bound
to this phone are the only credentials, and they reach one call's link and nothing else. The
page carries a strict Content-Security-Policy (scripts and styles from this site only, no
inline script, no framing, nothing from any other host) and is sent with no referrer, so the
token never leaves in a Referer header.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import Blueprint, g, jsonify, make_response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from location_link import evidence, links, photos, positions, signals
from location_link.words import LANGUAGES, word, words
from siaga112 import events
from siaga112.db import iso
from siaga112.errors import ApiError
from siaga112.web import db, json_body, machine_endpoint, runtime
from siaga112.web_input import is_record_id

bp = Blueprint("location_link_phone", __name__, url_prefix="/l", template_folder="templates",
               static_folder="static", static_url_path="/static")

PAGE_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:",
    "connect-src 'self'", "media-src 'self' blob:", "base-uri 'none'", "form-action 'none'",
    "frame-ancestors 'none'",
])
PAGE_PERMISSIONS = "geolocation=(self), camera=(self), microphone=()"
EXIF_FIELD_MAX = photos.EXIF_MAX_BYTES + 16


class MissLimiter:
    """Addresses that try many tokens we never made are slowed down (per process; tokens are unguessable anyway)."""

    def __init__(self, limit: int = 30, window_s: float = 600.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._misses: dict[str, deque] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self._lock:
            misses = self._misses.get(address)
            if not misses:
                return False
            while misses and misses[0] < time.monotonic() - self.window_s:
                misses.popleft()
            return len(misses) >= self.limit

    def miss(self, address: str) -> None:
        with self._lock:
            if len(self._misses) > 10_000:
                self._misses.clear()
            self._misses.setdefault(address, deque()).append(time.monotonic())


misses = MissLimiter()


def _language(link=None) -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return link.language if link is not None and link.language in LANGUAGES else runtime().settings.language


def _refusal(error: links.LinkRefused, lang: str):
    if error.status == 404:
        misses.miss(request.remote_addr or "?")
    return ApiError(error.status, error.code, word(error.code, lang)).response()


def _open(token: str, *, holder: bool = True):
    """The link for this request, checked: known, not ended, this phone's, within budget."""
    address = request.remote_addr or "?"
    if misses.blocked(address):
        raise links.LinkRefused(429, "slow_down")
    link = links.find_link(db(), token)
    g.link_language = link.language
    if holder:
        links.require_holder(link, request.cookies.get(links.DEVICE_COOKIE))
        links.spend(db(), link, runtime().settings.location_link_requests_per_minute)
        db().commit()  # counted even when the request then turns out to be bad
    return link


@bp.errorhandler(links.LinkRefused)
def _refused(error: links.LinkRefused):
    return _refusal(error, _language_from_g())


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    return ApiError(413, "too_large", word("too_large", _language_from_g())).response()


def _language_from_g() -> str:
    lang = request.args.get("lang") or g.get("link_language")
    return lang if lang in LANGUAGES else "id"


@bp.after_request
def _page_headers(response):
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = PAGE_PERMISSIONS
    if not request.path.startswith("/l/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _require_script_header() -> None:
    # The phone's writes are `machine_endpoint`s (no console session, so no CSRF token): their
    # credentials are the token in the path and the link's cookie. A cross-site form cannot set
    # a custom header, and a cross-site fetch that does is stopped by the browser's preflight:
    # with the SameSite cookie this keeps other sites from posting here.
    if request.headers.get("X-Siaga-Link") != "1":
        raise ApiError(400, "missing_header", "Requests to a location link come from its page.")


@bp.get("/<token>")
def page(token: str):
    """The caller's page: consent first; an invalid, expired or taken link says so and how to get help."""
    lang = _language()
    problem = None
    status = 200
    try:
        if misses.blocked(request.remote_addr or "?"):
            raise links.LinkRefused(429, "slow_down")
        link = links.find_link(db(), token)
        lang = _language(link)
        cookie = request.cookies.get(links.DEVICE_COOKIE)
        if link.device_hash is not None and not links.holds_link(link, cookie):
            raise links.LinkRefused(403, "taken")
    except links.LinkRefused as error:
        if error.status == 404:
            misses.miss(request.remote_addr or "?")
        problem, status = error.code, error.status
        link = None
    other = "en" if lang == "id" else "id"
    settings = runtime().settings
    body = render_template("location_link/phone.html", lang=lang, other_lang=other, w=words(lang), problem=problem,
                           started=bool(link is not None and link.device_hash is not None),
                           ice=signals.ice_servers(settings) if link is not None else [],
                           photos_max=settings.location_link_photos_max)
    return make_response(body, status)


@bp.post("/<token>/start")
@machine_endpoint
def start(token: str):
    """The caller agreed: this phone now holds the link (a cookie scoped to the link's own path)."""
    _require_script_header()
    link = _open(token, holder=False)
    secret = links.bind(db(), link, request.cookies.get(links.DEVICE_COOKIE))
    links.spend(db(), link, runtime().settings.location_link_requests_per_minute)
    db().commit()
    response = jsonify(started=True, expires_at=iso(link.expires_at),
                       ice_servers=signals.ice_servers(runtime().settings))
    if secret is not None:
        remaining = max(60, int((link.expires_at - link.bound_at).total_seconds()))
        response.set_cookie(links.DEVICE_COOKIE, secret, max_age=remaining, path=f"{links.PATH_PREFIX}{token}",
                            httponly=True, samesite="Strict",
                            secure=runtime().settings.public_base_url.lower().startswith("https://"))
    return response


@bp.post("/<token>/positions")
@machine_endpoint
def position(token: str):
    _require_script_header()
    link = _open(token)
    lat, lon, accuracy, observed_at, detail = positions.read_position(json_body())
    positions.keep_position(db(), runtime(), link, lat, lon, accuracy, observed_at, detail)
    db().commit()
    return jsonify(stored=True), 201


@bp.post("/<token>/photos")
@machine_endpoint
def photo(token: str):
    """One photo (multipart `photo`, and `exif`: the EXIF block the page cut from the original)."""
    _require_script_header()
    settings = runtime().settings
    limit = settings.location_link_photo_max_bytes + EXIF_FIELD_MAX + 4096
    request.max_content_length = limit
    link = _open(token)
    lang = link.language
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", word("too_large", lang))  # refused before a byte is parsed
    if link.photos >= settings.location_link_photos_max:
        raise ApiError(429, "too_many_photos", word("too_many_photos", lang))
    upload = request.files.get("photo")
    if upload is None:
        raise ApiError(400, "not_image", word("not_image", lang))
    data = upload.read(settings.location_link_photo_max_bytes + 1)
    if len(data) > settings.location_link_photo_max_bytes:
        raise ApiError(413, "too_large", word("too_large", lang))
    exif_part = request.files.get("exif")
    exif_segment = exif_part.read(EXIF_FIELD_MAX) if exif_part is not None else None
    try:
        checked = photos.read_photo(data, exif_segment)
    except photos.NotAnImage as error:
        raise ApiError(415, "not_image", f"{word('not_image', lang)} ({error})") from None
    use_gps = checked.gps is not None and link.positions == 0  # the browser's own positions come first
    media = evidence.store_photo(db(), settings, link, data, checked, gps_used=use_gps)
    link.photos += 1
    if use_gps:
        lat, lon, accuracy = checked.gps
        positions.keep_position(db(), runtime(), link, lat, lon, accuracy, None,
                                {"from": "photo exif", "media_id": media.id})
    _announce(link)
    db().commit()
    return jsonify(id=media.id, width=media.width, height=media.height, exif_position_used=use_gps), 201


def _announce(link) -> None:
    if link.call_id is not None:
        events.publish(db(), "call.updated", {"id": link.call_id, "media": "photo"})
    else:
        events.publish(db(), "alarm.updated", {"id": link.alarm_id, "media": "photo"})


@bp.get("/<token>/signals")
def read_signals(token: str):
    """What the console said since `after` (a video request, its answer, a hang-up); polled by the page."""
    link = _open(token)
    db().commit()
    after = request.args.get("after", "0")
    after_id = int(after) if is_record_id(after) else 0
    return jsonify(signals=signals.read(db(), link, "phone", after_id), expires_at=iso(link.expires_at))


@bp.post("/<token>/signals")
@machine_endpoint
def send_signal(token: str):
    _require_script_header()
    link = _open(token)
    signal = signals.post(db(), link, "phone", json_body())
    if link.call_id is not None:
        events.publish(db(), "call.updated", {"id": link.call_id, "video": signal.kind})
    db().commit()
    return jsonify(id=signal.id), 201
