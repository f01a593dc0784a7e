"""Malformed bodies, numbers and headers get a 400/404/413 with a sentence, on SQLite and PostgreSQL.

The sweep sends hostile values to every route the app has (so a new endpoint is covered the day it
is added): ids beyond what the schema holds in paths, query strings, bodies and form fields, JSON
nested 50,000 deep, numbers beyond 64 bits, NaN and Infinity, a 400-digit timestamp.
"""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from siaga112 import auth
from siaga112.web_input import ID_MAX, loads_limited, JsonRefused

HUGE = "99999999999999999999999"
BEYOND_SCHEMA = str(2**40)  # fits 64 bits, not the 32-bit id columns of PostgreSQL
DEEP_LIST = "[" * 50_000 + "]" * 50_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
FIELDS = ["call_ids", "alarm_ids", "incident_id", "fix_id", "call_id", "id", "after", "priority", "ts",
          "lat", "lon", "accuracy_m", "limit"]


def _bodies(number) -> list[str]:
    ids = {"call_ids": [number], "alarm_ids": [number], **{name: number for name in FIELDS[2:]}}
    plausible = {"category": "fire", "location": {"lat": -7.97, "lon": 112.63}, "status": "resolved",
                 "units": ["P-1"], "reporter": {"phone": "+6281234567890"}, "event": "panic", "device_id": "d"}
    return [json.dumps({**plausible, **ids}), json.dumps(ids)]


HOSTILE_BODIES = [DEEP_LIST, DEEP_OBJECT, '{"lat": NaN, "lon": Infinity, "accuracy_m": 1e999}',
                  '{"call_ids": [' + "9" * 400 + "]}", *_bodies(10**30), *_bodies(2**40)]


def _path(rule, value: str) -> str:
    path = rule.rule
    for name, converter in rule._converters.items():
        filler = sorted(converter.items)[0] if type(converter).__name__ == "AnyConverter" else value
        path = re.sub(r"<(?:[^:<>]+(?:\([^)]*\))?:)?%s>" % name, filler, path)
    return path


def _admin_session(app, database):
    with database.session() as session:
        user = auth.create_user(session, "sweep-admin", "admin", "a long password")
        user_id, epoch = user.id, user.session_epoch
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie.update(user_id=user_id, epoch=epoch, since=time.time())
    token = re.search(r'csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    return client, token


def test_every_route_answers_hostile_input_without_a_server_error(app, database, make_token, caplog):
    headers = {**make_token("admin"), "X-Siaga-Timestamp": "1" * 400, "X-Siaga-Signature": "sha256=00",
               "Last-Event-ID": HUGE}
    query = {name: HUGE for name in ["limit", "after", "call_id", "call", "alarm", "before", "since", "near",
                                     "radius_m", "from", "to", "date", "service_request_id"]}
    form_client, csrf = _admin_session(app, database)
    form = {name: HUGE for name in ["interval_s", "lat", "lon", "callsign", "agency", "phone", "status", "password",
                                    "role", "decision", "mode", "period", "name", "account", "device_id"]}
    client = app.test_client()
    server_errors = []
    caplog.set_level(logging.WARNING, logger="siaga112.web")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static") or rule.rule in ("/logout", "/login"):
            continue
        for value in (HUGE, BEYOND_SCHEMA):
            path = _path(rule, value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                attempts = [dict(query_string=query)] if method == "GET" else \
                    [dict(data=body, content_type="application/json") for body in HOSTILE_BODIES]
                for attempt in attempts:
                    response = client.open(path, method=method, headers=headers, **attempt)
                    if response.status_code >= 500:
                        server_errors.append(f"{method} {path} {str(attempt)[:60]}: {response.status_code}")
                    response.close()
                if not rule.rule.startswith(("/api/", "/open311/", "/twilio/")):
                    response = form_client.open(path, method=method, query_string=query, headers={"X-CSRFToken": csrf},
                                                data={**form, "csrf_token": csrf} if method != "GET" else None)
                    if response.status_code >= 500:
                        server_errors.append(f"{method} {path} (console form): {response.status_code}")
                    response.close()
    assert server_errors == []
    # Every refusal came from a check at the door, none from the database's own range error.
    assert [r.message for r in caplog.records if "out-of-range" in r.message] == []


def test_json_nested_fifty_thousand_deep_is_a_400_that_says_so(client, make_token):
    for body in (DEEP_LIST, DEEP_OBJECT):
        response = client.post("/api/v1/sos", data=body, content_type="application/json",
                               headers=make_token("alarms:write"))
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "json_too_deep"
        assert "deeper than 32" in response.get_json()["error"]["message"]


def test_an_id_beyond_64_bits_in_the_path_is_a_404(client, make_token):
    response = client.get("/api/v1/calls/99999999999999999999999", headers=make_token("calls:read"))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/calls/{ID_MAX + 1}", headers=make_token("calls:read")).status_code == 404


@pytest.mark.parametrize("ids, status, code", [
    ([10**30], 400, "unknown_calls"),
    ([2**40], 400, "unknown_calls"),
    ([0, -1], 400, "unknown_calls"),
])
def test_call_ids_beyond_the_schema_in_a_body_are_a_400(client, make_token, ids, status, code):
    response = client.post("/api/v1/incidents", headers=make_token("incidents:write"),
                           json={"category": "fire", "location": {"lat": -7.97, "lon": 112.63}, "call_ids": ids})
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_a_webhook_timestamp_of_400_digits_is_refused_as_no_time(client, database):
    from routing.alarms.buttons import sign
    from siaga112.models import AlarmSite

    with database.session() as session:
        session.add(AlarmSite(name="Toko Emas", lat=-7.97, lon=112.63, device_id="btn-1", secret="s3cret"))
    body = json.dumps({"device_id": "btn-1", "event_id": "e1", "event": "panic"}).encode()
    stamp = "1" * 400
    response = client.post("/api/v1/buttons/events", data=body, content_type="application/json",
                           headers={"X-Siaga-Timestamp": stamp, "X-Siaga-Signature": sign("s3cret", stamp, body)})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_timestamp"


@pytest.mark.parametrize("after", [HUGE, BEYOND_SCHEMA, "-1", "1e3", "²"])
def test_an_event_stream_resumed_after_an_impossible_id_is_a_400(client, make_token, after):
    response = client.get("/api/v1/events", query_string={"after": after}, headers=make_token("calls:read"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_event_id"


def test_a_body_over_the_limit_is_a_413_with_a_sentence(client, make_token):
    response = client.post("/api/v1/sos", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                           content_type="application/json", headers=make_token("alarms:write"))
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == "The request body is too large."


@pytest.mark.parametrize("text, reason", [
    (DEEP_LIST, "deeper"), ('{"n": ' + "9" * 400 + "}", "more than 40 digits"), ('[' * 33 + ']' * 33, "deeper"),
    ('{"x": 1' + "0" * 500 + '.5}', "too long"),
])
def test_the_json_reader_refuses_with_a_reason(text, reason):
    with pytest.raises(JsonRefused, match=reason):
        loads_limited(text)


def test_the_json_reader_reads_what_clients_send():
    geojson = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[112.6, -7.9], [112.7, -7.9]]]}}
    assert loads_limited(json.dumps(geojson)) == geojson
    assert loads_limited('{"ts": 1796000000123, "lat": -7.97}') == {"ts": 1796000000123, "lat": -7.97}
    assert loads_limited('{"id": ' + str(10**30) + "}") == {"id": 10**30}  # the view judges the value


def test_an_sos_with_absurd_numbers_is_still_taken_unlocated(client, make_token):
    body = '{"reporter": {"phone": "+6281234567890"}, "location": {"lat": 1e999, "lon": %d, "accuracy_m": %d}}' % (
        10**30, 10**30)
    response = client.post("/api/v1/sos", data=body, content_type="application/json",
                           headers=make_token("alarms:write"))
    assert response.status_code == 201
    assert response.get_json()["location"] is None
