"""IP panic buttons' signed webhook."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from siaga112.web import db, machine_endpoint, runtime
from routing.alarms import buttons

bp = Blueprint("buttons_api", __name__, url_prefix="/api/v1")


@bp.post("/buttons/events")
@machine_endpoint
def button_event():
    if (request.content_length or 0) > buttons.MAX_BODY_BYTES:
        from siaga112.errors import ApiError

        raise ApiError(413, "too_large", f"A button event is at most {buttons.MAX_BODY_BYTES} bytes.")
    body = request.get_data(cache=False)
    status, result = buttons.receive(db(), runtime(), body, request.headers.get("X-Siaga-Timestamp"),
                                     request.headers.get("X-Siaga-Signature"))
    return jsonify(result), status
