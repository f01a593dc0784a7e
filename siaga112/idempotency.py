"""`Idempotency-Key` on every POST: the same key from the same principal gets the first answer back.

A console that sends one create three times (Ctrl+Enter pressed again, a retry after a network
drop, Back and submit) must make one record. The client sends a key it chose once per intended
action; the first request with it is reserved in its own committed row *before* the view runs,
so a second request arriving while the first is still working waits for that answer instead of
racing it. Only a success is kept: a refusal (4xx: nothing was made) or a failure (5xx) gives
the key back, so the person can correct the form and send it again with the same key.

Keys belong to a principal (a user's name or a token's), are kept for `RETENTION` and are
refused when reused for another address.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from siaga112.db import utcnow
from siaga112.errors import ApiError
from siaga112.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no blanks
RETENTION = timedelta(hours=24)
WAIT_SECONDS = 10.0  # how long a repeat waits for the first request with its key to finish
POLL_SECONDS = 0.05


def _runtime():
    return current_app.extensions["siaga112"]


def owner(principal) -> str:
    """Whose key it is: one user or one token (token names need not be unique)."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.token_id is not None:
        return f"token:{principal.token_id}"
    return principal.name[:120]


def keys_its_own(view):
    """Mark a view that reads Idempotency-Key itself (the SOS: one alarm per reporter and key,
    stored with the alarm, answered 200 on a resend); the general mechanism leaves it alone."""
    view.keys_its_own_idempotency = True
    return view


def begin() -> Response | None:
    """Before a POST view: reserve the key, or answer with the response already given for it."""
    if request.method != "POST":
        return None
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "keys_its_own_idempotency", False):
        return None
    key = request.headers.get(HEADER)
    principal = g.get("principal")
    if key is None or principal is None:
        return None
    if not KEY_FORMAT.match(key):
        raise ApiError(400, "invalid_idempotency_key",
                       "Idempotency-Key must be 1 to 200 printable characters without spaces.")
    database = _runtime().database
    try:
        with database.session() as session:
            row = IdempotencyKey(principal=owner(principal), key=key, method=request.method,
                                 path=request.path[:300], state="pending")
            session.add(row)
            session.flush()
            g.idempotency_id = row.id
        return None
    except IntegrityError:
        pass
    return _replay(database, owner(principal), key)


def _replay(database, principal: str, key: str) -> Response:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with database.session() as session:
            row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.principal == principal,
                                                              IdempotencyKey.key == key))
            if row is None:  # the first request failed and gave its key back: this one may go ahead
                return begin()
            if row.method != request.method or row.path != request.path[:300]:
                raise ApiError(422, "idempotency_key_reused",
                               "This Idempotency-Key was used for another request; send a new key.")
            if row.state == "done":
                response = Response(row.body or "", status=row.status_code or 200,
                                    content_type=row.content_type or "application/json")
                response.headers[REPLAYED_HEADER] = "true"
                return response
        if time.monotonic() >= deadline:
            raise ApiError(409, "request_in_progress",
                           "The same request is still being processed; wait a moment and look again.")
        time.sleep(POLL_SECONDS)


def finish(response: Response) -> Response:
    """After the view: keep the answer for the key, or give the key back if the server failed."""
    row_id = g.pop("idempotency_id", None)
    if row_id is None:
        return response
    with _runtime().database.session() as session:
        row = session.get(IdempotencyKey, row_id)
        if row is None:
            return response
        if response.status_code >= 400 or response.is_streamed:
            session.delete(row)
        else:
            row.state, row.status_code = "done", response.status_code
            row.content_type = (response.content_type or "")[:120] or None
            row.body = response.get_data(as_text=True)
    return response


def abandon(_exc=None) -> None:
    """Teardown: a request that ended without `finish` (an unhandled error) frees its key."""
    row_id = g.pop("idempotency_id", None)
    if row_id is None:
        return
    with _runtime().database.session() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


def purge(runtime) -> int:
    """Scheduled: forget keys older than RETENTION."""
    with runtime.database.session() as session:
        result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - RETENTION))
        return result.rowcount or 0
