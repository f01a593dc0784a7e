"""IP panic buttons' signed webhook."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from siaga112.errors import ApiError
from siaga112.journal import JournalError
from siaga112.web import machine_endpoint, runtime
from routing.alarms import buttons
from routing.alarms.journal import BUTTON, button_entry, store_or_keep

bp = Blueprint("buttons_api", __name__, url_prefix="/api/v1")


@bp.post("/buttons/events")
@machine_endpoint
def button_event():
    """201 with the alarm (200 for a cancel, test or heartbeat, and for a repeated event id).

    When the database refuses or does not answer within `alarm_db_timeout_seconds`, the event is
    checked against its device as this process last read it, kept in the alarm journal and
    answered 202; a device added since the sites were last read (at start, then every few minutes,
    `buttons.read_device_book`) gets 503 and resends.
    """
    if (request.content_length or 0) > buttons.MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"A button event is at most {buttons.MAX_BODY_BYTES} bytes.")
    body = request.get_data(cache=False)
    timestamp, signature = request.headers.get("X-Siaga-Timestamp"), request.headers.get("X-Siaga-Signature")
    rt = runtime()
    book = buttons.device_book(rt)

    def store(session):
        if not book.loaded:
            book.load(session)
        return buttons.receive(session, rt, body, timestamp, signature)

    checked: list[buttons.CheckedEvent] = []

    def keep():
        site = book.get(buttons.device_of(body))
        if site is None:
            raise ApiError(503, "database_unavailable",
                           "The event cannot be checked while the database is away; send it again shortly.")
        checked.append(buttons.check(site, body, timestamp, signature))
        return button_entry(checked[0])

    try:
        stored, result = store_or_keep(rt, BUTTON, store, keep)
    except JournalError:
        raise ApiError(503, "not_stored", "The event could not be stored just now; send it again.") from None
    if not stored:
        event = checked[0]
        return jsonify({"event_id": event.event_id, "event": event.event, "result": "received",
                        "receipt": event.event_id}), 202
    status, answer = result
    return jsonify(answer), status
