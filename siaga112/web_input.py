"""Malformed input answered 400/404/413 with a sentence, never a 500: one place for every endpoint.

- Ids in paths: the `int` URL converter stops at the largest id the schema can hold (Integer
  primary keys, 32-bit on PostgreSQL), so `/calls/99999999999999999999999` is a plain 404
  instead of NumericValueOutOfRange (PostgreSQL) or OverflowError (SQLite).
- JSON bodies: one reader for every view (the app's JSON provider, so `request.get_json` uses it
  too) that refuses nesting deeper than MAX_JSON_DEPTH (50,000 brackets raised RecursionError)
  and numbers of more than MAX_NUMBER_DIGITS digits, with the reason in the 400. Values it can
  represent (NaN, a huge whole number) are the view's to judge: an SOS with `"lat": NaN` is
  still taken, unlocated, and never refused for what its fields hold.
- Numbers in query strings, headers and bodies: `whole_number` and `record_id` below.
- Whatever still reaches the database out of range is answered 400 by the app's error handler
  (see `siaga112.web`), the transaction rolled back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from siaga112.errors import ApiError

ID_MAX = 2**31 - 1  # primary keys are Integer columns: 32-bit on PostgreSQL
INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 32  # GeoJSON needs 5; nothing a client of ours sends comes near
MAX_NUMBER_DIGITS = 40  # longer digit strings are refused before int() spends time on them
_WHOLE = re.compile(r"[+-]?[0-9]{1,%d}" % MAX_NUMBER_DIGITS)


class JsonRefused(ValueError):
    """A JSON text we will not read, and why (a sentence for the client, and a code)."""

    def __init__(self, message: str, code: str = "json_too_deep") -> None:
        super().__init__(message)
        self.code = code


def _whole(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS + 1:  # int() of thousands of digits costs quadratic time
        raise JsonRefused(f"A number in the body has more than {MAX_NUMBER_DIGITS} digits.", "json_number_too_long")
    return int(text)


def _decimal(text: str) -> float:
    if len(text) > 400:
        raise JsonRefused("A number in the body is too long.", "json_number_too_long")
    return float(text)


def _depth_within(value: Any, limit: int) -> bool:
    """Whether containers nest at most `limit` deep (iterative: a deep value cannot blow the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def loads_limited(text: str | bytes, **kwargs) -> Any:
    """json.loads with the limits above; JsonRefused (a ValueError) says what was wrong."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError too
    kwargs.setdefault("parse_int", _whole)
    kwargs.setdefault("parse_float", _decimal)
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonRefused(f"The body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise JsonRefused(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies through `loads_limited`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_limited(s, **kwargs)


class RecordIdConverter(IntegerConverter):
    """`<int:...>` in a route: a positive id the schema can hold, else the route does not match (404)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value) > MAX_NUMBER_DIGITS:
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return super().to_python(value)


def whole_number(raw: Any, name: str, *, low: int = 0, high: int = INT64_MAX, code: str = "invalid_number") -> int:
    """A whole number from a query string, header or body field, within [low, high], or a 400 naming it."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        raise ApiError(400, code, f"{name} must be a whole number.")
    if not low <= value <= high:
        raise ApiError(400, code, f"{name} must be between {low} and {high}.")
    return value


def record_id(raw: Any, name: str) -> int:
    """An id from a body or query string: a whole number from 1 to ID_MAX, or a 400 naming the field."""
    return whole_number(raw, name, low=1, high=ID_MAX, code="invalid_id")


def stored_id(value: Any) -> int | None:
    """A JSON value as an id the schema can hold, or None (then nothing has that id)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX:
        return value
    return None


def is_record_id(text: str) -> bool:
    """Whether a path segment is an id the schema can hold (for routes that cannot use `<int:...>`)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) <= ID_MAX


def init_app(app) -> None:
    """Install the bounded id converter (before any blueprint is registered) and the JSON reader."""
    app.url_map.converters["int"] = RecordIdConverter
    app.json = LimitedJSONProvider(app)


def legal_hold_request(body: dict, what: str) -> tuple[bool, str | None]:
    """`{"hold": true|false, "reason"?: text}` of a legal-hold request for a recording or evidence,
    or a clear 400; `what` names the thing in the message ("the recording", "it")."""
    hold = body.get("hold")
    if not isinstance(hold, bool):
        raise ApiError(400, "invalid_hold", f"Send {{\"hold\": true}} to hold {what}, false to release it.")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ApiError(400, "invalid_reason", "The reason must be text.")
    return hold, reason
