"""Server-Sent Events for the console: the outbox table, read in order, woken across processes.

A stream starts after `Last-Event-ID` (the browser's own resume), else after `?after=N` (the
id the page was rendered at, so nothing falls between render and subscribe), else at the
newest event. Screen-pops carry an audience and go only to that user, and each kind goes only
to readers whose role or token holds its scope (`events.EVENT_SCOPES`): a `calls:read` token
hears calls, not alarms.

A console must know when it is no longer live. Every `heartbeat` seconds without events the
stream sends a `heartbeat` event (data, not a comment: a page's script cannot see comments),
so a page that hears nothing for a few heartbeats knows the server or the network is gone.
Every heartbeat the users' sign-ins are checked again: a session ended elsewhere (sign-out in
another tab, the password changed, the account disabled) gets `session.ended` and the stream
closes, so the page says "sign in again" within a heartbeat instead of at the next reconnect.

The view decides who reads and from where, then hands the connection to the app's
`siaga112.event_streams.EventStreams`: no worker thread is held while a console listens.
"""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, Response, current_app, g, request, session as cookie_session
from sqlalchemy import select

from siaga112 import event_streams, events
from siaga112.auth import require
from siaga112.errors import ApiError
from siaga112.models import User
from siaga112.web import runtime, sign_in_holds
from siaga112.web_input import ID_MAX, whole_number
from siaga112.web_server import HAND_OVER

bp = Blueprint("events_api", __name__, url_prefix="/api/v1")

HEARTBEAT_SECONDS = 2.0  # the console shows "disconnected" after LOST_AFTER_S without one (console.js)
STREAM_SECONDS = 300.0  # then the browser reconnects with Last-Event-ID, and the login is checked again
RETRY_AFTER_S = "5"

format_event = event_streams.format_event  # the wire format, for whoever renders an event as the stream does

_STREAMS = "siaga112.event_streams"
_STREAMS_LOCK = threading.Lock()


def _start_id(database) -> int:
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        if raw not in (None, ""):
            return whole_number(raw, "The event id to resume after", low=0, high=ID_MAX, code="invalid_event_id")
    with database.session() as session:
        return events.latest_id(session)


def _sign_in_check(database, shift_seconds: float):
    """check(sign-ins) -> still signed in, each: every open console's account read in one query.

    A sign-in is (user id, the cookie's epoch, when it signed in)."""

    def check(sign_ins: list[tuple[int, int, float]]) -> list[bool]:
        with database.session() as session:
            accounts = {row.id: row for row in session.execute(
                select(User.id, User.active, User.session_epoch).where(User.id.in_({s[0] for s in sign_ins})))}
        answers = []
        for user_id, epoch, since in sign_ins:
            account = accounts.get(user_id)
            answers.append(account is not None and sign_in_holds(account.active, account.session_epoch, epoch, since,
                                                                 shift_seconds=shift_seconds))
        return answers

    return check


def streams_of(app: Flask) -> event_streams.EventStreams:
    """The app's open event streams (made with the first)."""
    found = app.extensions.get(_STREAMS)
    if found is None:
        with _STREAMS_LOCK:
            found = app.extensions.get(_STREAMS)
            if found is None:
                rt = app.extensions["siaga112"]
                found = app.extensions[_STREAMS] = event_streams.EventStreams(
                    rt.database, max_streams=app.config.get("SSE_MAX_STREAMS", 400),
                    check_sign_ins=_sign_in_check(rt.database, rt.settings.session_minutes * 60))
    return found


def close_event_streams(app: Flask, timeout: float = 3.0) -> None:
    """End every open stream of `app` (the server is stopping); new ones are refused from now on."""
    found = app.extensions.get(_STREAMS)
    if found is not None:
        found.close(timeout=timeout)


def _refuse(status: int, code: str, message: str):
    response, status = ApiError(status, code, message).response()
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response, status


@bp.get("/events")
@require("calls:read")
def event_stream():
    database = runtime().database
    after_id = _start_id(database)
    hand_over = request.environ.get(HAND_OVER)
    if hand_over is None:
        # Only `serve`'s web server can hold a stream without holding a worker.
        return _refuse(503, "streams_unavailable", "This server cannot hold event streams.")
    user = g.principal.kind == "user"
    reader = event_streams.Reader(
        after_id=after_id,
        audience=g.principal.name if user else None,
        kinds=events.kinds_for(g.principal.can),
        heartbeat=current_app.config.get("SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
        lifetime=current_app.config.get("SSE_STREAM_SECONDS", STREAM_SECONDS),
        sign_in=(g.principal.user_id, cookie_session.get("epoch"), cookie_session.get("since")) if user else None,
    )
    ticket = streams_of(current_app._get_current_object()).reserve(reader)
    if ticket is None:
        # The limit keeps a flood of streams from the server's memory; the browser retries.
        return _refuse(503, "too_many_streams", "Too many consoles are connected; retrying shortly.")
    hand_over(ticket)
    response = Response((), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
