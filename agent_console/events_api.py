"""Server-Sent Events for the console: the outbox table, read in order, woken across processes.

A stream starts after `Last-Event-ID` (the browser's own resume), else after `?after=N` (the
id the page was rendered at, so nothing falls between render and subscribe), else at the
newest event. Screen-pops carry an audience and go only to that user, and each kind goes only
to readers whose role or token holds its scope (`events.EVENT_SCOPES`): a `calls:read` token
hears calls, not alarms.

A console must know when it is no longer live. Every `heartbeat` seconds without events the
stream sends a `heartbeat` event (data, not a comment: a page's script cannot see comments),
so a page that hears nothing for a few heartbeats knows the server or the network is gone.
At each heartbeat the user's sign-in is checked again: a session ended elsewhere (sign-out in
another tab, the password changed, the account disabled) gets `session.ended` and the stream
closes, so the page says "sign in again" within a heartbeat instead of at the next reconnect.
"""

from __future__ import annotations

import json
import threading
import time

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from siaga112 import events
from siaga112.auth import require
from siaga112.db import iso
from siaga112.errors import ApiError
from siaga112.models import User
from siaga112.web import console_session_valid, runtime
from siaga112.web_input import ID_MAX, whole_number

bp = Blueprint("events_api", __name__, url_prefix="/api/v1")

HEARTBEAT_SECONDS = 2.0  # the console shows "disconnected" after LOST_AFTER_S without one (console.js)
STREAM_SECONDS = 300.0  # then the browser reconnects with Last-Event-ID, and the login is checked again
RETRY_MS = 1000  # how soon EventSource reconnects after the stream ends


def _start_id(database) -> int:
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        if raw not in (None, ""):
            return whole_number(raw, "The event id to resume after", low=0, high=ID_MAX, code="invalid_event_id")
    with database.session() as session:
        return events.latest_id(session)


def format_event(event) -> str:
    """One event in the SSE wire format; the data line is JSON: id, kind, time, audience, payload."""
    data = json.dumps({"id": event.id, "kind": event.kind, "at": iso(event.at), "audience": event.audience,
                       "payload": event.payload}, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def heartbeat_event() -> str:
    return f"event: heartbeat\ndata: {json.dumps({'at': time.time()})}\n\n"


SESSION_ENDED = 'event: session.ended\ndata: {"reason":"signed_out"}\n\n'


def _wire(event) -> bytes:
    """format_event's bytes, made once per event: the rows of a shared read are the same objects
    for every stream that reads them, so 300 streams encode an event once, not 300 times."""
    text = getattr(event, "_sse_wire", None)
    if text is None:
        text = event._sse_wire = format_event(event).encode("utf-8")
    return text


def stream(database, subscriber: events.Subscriber, after_id: int, audience: str | None, *,
           heartbeat: float, lifetime: float, signed_in=None, kinds: frozenset[str] | None = None):
    """Yield SSE text: events as they are published, a heartbeat event when there are none.

    `kinds` are the event kinds this reader may hear (None: every kind).

    `signed_in()`, when given, is asked at each heartbeat; False ends the stream with
    `session.ended`.
    """
    cursor = events.Cursor(after_id)
    deadline = time.monotonic() + lifetime
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    with subscriber.subscription():
        while time.monotonic() < deadline and not subscriber.closing:
            mark = subscriber.latest
            rows = subscriber.read(cursor.floor, mark)  # one query shared by the streams woken together
            fresh = set(cursor.take([row.id for row in rows]))
            for row in rows:
                if row.id in fresh and events.visible_to(row, audience) and (kinds is None or row.kind in kinds):
                    yield _wire(row)
            if fresh and len(rows) >= 200:
                continue
            if not subscriber.wait(mark, timeout=min(heartbeat, max(0.0, deadline - time.monotonic()))):
                if signed_in is not None and not signed_in():
                    yield SESSION_ENDED
                    return
                yield heartbeat_event()


def _sign_in_check(database):
    """A check of this request's console sign-in that reads the account afresh each time."""
    user_id = g.principal.user_id

    def signed_in() -> bool:
        with database.session() as session:
            user = session.get(User, user_id)
            return user is not None and console_session_valid(user)

    return signed_in


def _stream_slots() -> threading.BoundedSemaphore:
    """How many streams may be open at once: each holds a server worker for its lifetime."""
    app = current_app._get_current_object()
    slots = app.extensions.get("siaga112.event_stream_slots")
    if slots is None:
        with _SLOTS_LOCK:
            slots = app.extensions.setdefault(
                "siaga112.event_stream_slots", threading.BoundedSemaphore(app.config.get("SSE_MAX_STREAMS", 400)))
    return slots


_SLOTS_LOCK = threading.Lock()


@bp.get("/events")
@require("calls:read")
def event_stream():
    database = runtime().database
    after_id = _start_id(database)
    slots = _stream_slots()
    if not slots.acquire(blocking=False):
        # The API keeps its own workers: a stream beyond the limit is refused, and the browser retries.
        error = ApiError(503, "too_many_streams", "Too many consoles are connected; retrying shortly.")
        response, status = error.response()
        response.headers["Retry-After"] = "5"
        return response, status
    audience = g.principal.name if g.principal.kind == "user" else None
    body = stream(
        database, events.subscriber(database), after_id, audience,
        heartbeat=current_app.config.get("SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
        lifetime=current_app.config.get("SSE_STREAM_SECONDS", STREAM_SECONDS),
        signed_in=_sign_in_check(database) if g.principal.kind == "user" else None,
        kinds=events.kinds_for(g.principal.can),
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    response.call_on_close(slots.release)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
