"""The console event stream: order, resume, audience, and changes crossing processes within a second."""

from __future__ import annotations

import time

import pytest

from siaga112 import events
from siaga112.db import Database
from siaga112.runtime import Runtime
from tests.console.browser import LiveServer
from tests.console.sse import SseStream


def _publish(database, kind="call.queued", payload=None, audience=None) -> int:
    with database.session() as session:
        return events.publish(session, kind, payload or {"id": 1}, audience=audience).id


def test_event_stream_refuses_anonymous_readers(client):
    assert client.get("/api/v1/events").status_code == 401


def test_event_stream_refuses_a_token_without_calls_read(client, make_token):
    assert client.get("/api/v1/events", headers=make_token("alarms:write")).status_code == 403


def test_event_published_in_another_process_reaches_a_stream_within_one_second(runtime, database, make_token):
    # Two Database objects on one database stand for two processes: the publisher's and the console's.
    other = Database(database.url)
    try:
        with LiveServer(Runtime(settings=runtime.settings, database=other)) as server, \
                SseStream(server.port, headers=make_token("calls:read", "alarms:read")) as stream:
            assert stream.status == 200
            _publish(database, "call.updated", {"id": 1})  # once this arrives, the stream is live
            stream.next_event(timeout=5)
            started = time.monotonic()
            event_id = _publish(database, "alarm.new", {"id": 7, "kind": "panic"})
            event = stream.next_event(timeout=2)
            elapsed = time.monotonic() - started
    finally:
        other.dispose()
    assert event["id"] == str(event_id)
    assert event["event"] == "alarm.new"
    assert event["data"]["payload"] == {"id": 7, "kind": "panic"}
    assert elapsed < 1.0


def test_a_calls_read_token_hears_calls_and_no_alarm_incident_or_unit_event(console, database, make_token):
    _publish(database, "alarm.new", {"id": 7, "kind": "panic", "reporter": {"name": "Sari"}})
    _publish(database, "alarm.updated", {"id": 7})
    _publish(database, "incident.created", {"id": 3})
    _publish(database, "unit.updated", {"callsign": "DAMKAR-01"})
    marker = _publish(database, "call.queued", {"id": 9})
    with SseStream(console.port, "/api/v1/events?after=0", make_token("calls:read")) as stream:
        event = stream.next_event()
    assert (event["event"], event["id"]) == ("call.queued", str(marker))  # the four before it never came


def test_a_token_with_alarms_read_hears_alarms_on_the_stream(console, database, make_token):
    alarm = _publish(database, "alarm.new", {"id": 7, "kind": "panic"})
    with SseStream(console.port, "/api/v1/events?after=0", make_token("calls:read", "alarms:read")) as stream:
        assert stream.next_event()["id"] == str(alarm)


def test_every_event_kind_names_the_scope_that_may_hear_it():
    assert set(events.EVENT_SCOPES) == set(events.EVENT_KINDS)
    assert events.kinds_for(lambda scope: scope == "calls:read") == {
        "call.queued", "call.updated", "call.answered", "call.ended", "agent.status"}


def test_stream_resumes_after_last_event_id(console, database, make_token):
    first = _publish(database, payload={"id": 1})
    second = _publish(database, payload={"id": 2})
    headers = {**make_token("calls:read"), "Last-Event-ID": str(first)}
    with SseStream(console.port, headers=headers) as stream:
        assert stream.next_event()["id"] == str(second)


def test_screen_pop_goes_only_to_its_audience(console, database, make_user, new_page):
    from tests.console.browser import log_in

    # Sessions, not tokens: audience is a user. Read the stream through two logged-in browsers' cookies.
    pytest.importorskip("playwright.sync_api")
    ani, _ = make_user("calltaker", username="ani")
    budi, _ = make_user("calltaker", username="budi")
    cookies = {}
    for name in (ani, budi):
        page = new_page()
        log_in(page, console, name)
        cookies[name] = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
        page.goto("about:blank")  # only the session is needed; the page itself must not pop
    with SseStream(console.port, "/api/v1/events?after=0", {"Cookie": cookies[ani]}) as ani_stream, \
            SseStream(console.port, "/api/v1/events?after=0", {"Cookie": cookies[budi]}) as budi_stream:
        _publish(database, "call.answered", {"id": 5}, audience="budi")
        marker = _publish(database, "call.updated", {"id": 6})
        assert _next_call_event(budi_stream)["event"] == "call.answered"
        assert _next_call_event(ani_stream)["id"] == str(marker)


def _next_call_event(stream) -> dict:
    """The next event about a call (signing in announces the person's state on the floor first)."""
    while (event := stream.next_event())["event"] == "agent.status":
        pass
    return event


@pytest.mark.parametrize("raw", ["abc", "-1"])
def test_stream_refuses_a_bad_resume_id(client, make_token, raw):
    response = client.get(f"/api/v1/events?after={raw}", headers=make_token("calls:read"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_event_id"


def test_cursor_waits_for_a_lower_id_committed_late_then_gives_up():
    now = [0.0]
    cursor = events.Cursor(0, clock=lambda: now[0])
    assert cursor.take([1, 3]) == [1, 3]
    assert cursor.floor == 1  # 2 may still commit
    assert cursor.take([2, 3]) == [2]
    assert cursor.floor == 3
    assert cursor.take([5]) == [5]
    now[0] += events.GAP_GRACE_SECONDS + 1
    assert cursor.floor == 5


def test_stream_sends_heartbeats_and_ends_a_session_signed_out_elsewhere(console, database, make_user, new_page):
    from siaga112.models import User
    from tests.console.browser import log_in

    pytest.importorskip("playwright.sync_api")
    name, _ = make_user("calltaker")
    page = new_page()
    log_in(page, console, name)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    page.goto("about:blank")
    with SseStream(console.port, "/api/v1/events", {"Cookie": cookie}) as stream:
        deadline = time.monotonic() + 5
        heard = b""
        while b"event: heartbeat" not in heard and time.monotonic() < deadline:
            stream.sock.settimeout(2)
            heard += stream.response.fp.readline()
        assert b"event: heartbeat" in heard  # data a page's script can hear, not a comment
        with database.session() as session:
            session.query(User).filter_by(username=name).one().session_epoch += 1
        event = stream.next_event(timeout=5)
        while event.get("event") != "session.ended":  # the rest of the heartbeat read above, if any
            event = stream.next_event(timeout=5)
        assert event["data"] == {"reason": "signed_out"}


def test_a_stream_subscribing_while_the_last_one_leaves_still_hears_new_events(database, monkeypatch):
    """The watcher told to stop may still be finishing its wait (a LISTEN waits out its timeout):
    a subscriber arriving then gets a watcher of its own, not one that is about to end."""
    import threading

    subscriber = events.Subscriber(database)
    polling, first_left = threading.Event(), threading.Event()

    def lingering_poll(stop):
        polling.set()
        while not stop.wait(0.05):
            subscriber._read_latest()
        if not first_left.is_set():
            first_left.set()
            time.sleep(0.5)  # the first watcher is still finishing when the next stream subscribes

    monkeypatch.setattr(subscriber, "_poll", lingering_poll)
    monkeypatch.setattr(subscriber, "_listen", lingering_poll)
    with subscriber.subscription():
        assert polling.wait(5)
    with subscriber.subscription():
        assert first_left.wait(5)
        with database.session() as session:
            newest = events.publish(session, "call.queued", {"call_id": 1}).id
            session.commit()
        deadline = time.monotonic() + 5
        while subscriber.latest < newest and time.monotonic() < deadline:
            time.sleep(0.05)
        assert subscriber.latest >= newest
    subscriber.stop()
