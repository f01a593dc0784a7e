"""Hundreds of console streams cost no worker: the outbox is read once per event for all of them,
each stream hears only its own, a resuming console misses nothing, and a console that stops
reading is closed without holding up the others."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from agent_console.events_api import streams_of
from siaga112 import event_streams, events
from tests.console.browser import LiveServer
from tests.console.sse import SseStream


def _publish(database, kind="call.queued", payload=None, audience=None) -> int:
    with database.session() as session:
        return events.publish(session, kind, payload or {"id": 1}, audience=audience).id


def _get(port: int, path: str, headers: dict) -> int:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def _until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_forty_streams_on_two_workers_hold_no_worker_and_one_event_is_read_once_for_all(
        runtime, database, make_token, monkeypatch):
    reads = []
    real = events.fetch_every
    monkeypatch.setattr(events, "fetch_every", lambda *a, **k: reads.append(a[1]) or real(*a, **k))
    calls_only, everything = make_token("calls:read"), make_token("calls:read", "alarms:read")
    with LiveServer(runtime, threads=2) as server:
        threads_before = threading.active_count()
        streams = [SseStream(server.port, headers=calls_only if n % 2 else everything) for n in range(40)]
        try:
            assert all(stream.status == 200 for stream in streams)
            assert _until(lambda: streams_of(server.app).open_streams == 40)
            assert threading.active_count() - threads_before <= 4  # the reader, the writer, the watcher
            assert _get(server.port, "/api/v1/calls", calls_only) == 200  # the two workers are free
            reads.clear()
            alarm = _publish(database, "alarm.new", {"id": 7, "kind": "panic"})
            call = _publish(database, "call.queued", {"id": 9})
            heard = [stream.next_event() for stream in streams]
        finally:
            for stream in streams:
                stream.close()
    assert [event["id"] for event in heard[1::2]] == [str(call)] * 20  # calls:read hears no alarm
    assert [event["id"] for event in heard[0::2]] == [str(alarm)] * 20
    assert len(reads) <= 3  # one read per wake-up for all 40 (two events may wake it twice), not 40


def test_a_console_resuming_while_events_arrive_gets_each_event_once_in_order(console, database, make_token):
    first = _publish(database, payload={"n": 0})
    for n in range(1, 30):
        _publish(database, payload={"n": n})
    stop = threading.Event()
    published = []

    def publish_on():
        n = 30
        while not stop.is_set() and n < 80:
            published.append(_publish(database, payload={"n": n}))
            n += 1

    publisher = threading.Thread(target=publish_on)
    publisher.start()
    try:
        with SseStream(console.port, headers={**make_token("calls:read"), "Last-Event-ID": str(first)}) as stream:
            got = []
            while len(got) < 79:
                got.append(stream.next_event()["data"]["payload"]["n"])
    finally:
        stop.set()
        publisher.join()
    assert got == list(range(1, 80))


def test_a_console_far_behind_gets_a_part_and_resumes_from_it_on_its_next_connection(
        console, database, make_token, monkeypatch):
    monkeypatch.setattr(event_streams, "REPLAY_LIMIT", 5)
    monkeypatch.setattr(event_streams, "READ_PAGE", 5)
    ids = [_publish(database, payload={"n": n}) for n in range(12)]
    token = make_token("calls:read")
    got: list[str] = []
    connections = 0
    while len(got) < 12 and connections < 5:
        headers = {**token, "Last-Event-ID": got[-1]} if got else token
        with SseStream(console.port, "/api/v1/events?after=0", headers) as stream:
            connections += 1
            part = [stream.next_event()["id"] for _ in range(min(5, 12 - len(got)))]
            if len(got) + len(part) < 12:
                stream.sock.settimeout(5)
                assert stream.response.fp.read().endswith(b"0\r\n\r\n")  # it ended: the browser resumes
            got += part
    assert got == [str(i) for i in ids] and connections == 3


def test_a_console_that_stops_reading_is_closed_and_the_others_keep_hearing(console, database, make_token):
    token = make_token("calls:read")
    request = f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: {token['Authorization']}\r\n\r\n".encode()
    keeping_up = socket.create_connection(("127.0.0.1", int(console.port)))
    keeping_up.sendall(request)
    received = bytearray()
    marker_seen = threading.Event()

    def read_on():  # a console that keeps up: takes every byte as it comes, reads it afterwards
        keeping_up.settimeout(30)
        while not marker_seen.is_set():
            chunk = keeping_up.recv(1 << 20)
            if not chunk:
                return
            received.extend(chunk)
            if b"event: call.queued" in received[-65536:]:
                marker_seen.set()

    # A client that reads nothing, with a small window, so its backlog grows on the server.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", int(console.port)))
    stalled.sendall(request)
    reader = threading.Thread(target=read_on)
    reader.start()
    try:
        hub = streams_of(console.app)
        hub.backlog_limit_bytes = 512 * 1024
        assert _until(lambda: hub.open_streams == 2)
        big = "x" * 20_000
        for n in range(1000):  # up to 20 MB, at a pace the reader in this process keeps up with
            _publish(database, "call.updated", {"n": n, "pad": big})
            if hub.dropped:
                break
            time.sleep(0.005)
        _publish(database, "call.queued", {"id": 42})
        assert marker_seen.wait(30), f"dropped {hub.dropped}, open {hub.open_streams}, read {len(received)} bytes"
        assert _until(lambda: hub.dropped == 1 and hub.open_streams == 1)
    finally:
        marker_seen.set()
        keeping_up.close()
        stalled.close()
        reader.join(timeout=30)
    payloads = [line for line in bytes(received).split(b"\n") if line.startswith(b"data: {")]
    numbers = [json.loads(line[6:])["payload"].get("n") for line in payloads]
    assert numbers[:-1] == list(range(len(numbers) - 1)) and numbers[-1] is None  # none lost, in order


def test_a_stream_whose_client_went_away_gives_its_place_back(console, make_token):
    token = make_token("calls:read")
    stream = SseStream(console.port, headers=token)
    hub = streams_of(console.app)
    assert _until(lambda: hub.open_streams == 1)
    stream.close()
    assert _until(lambda: hub.open_streams == 0)


def test_a_stream_refused_after_its_place_was_reserved_gives_it_back(runtime):
    hub = event_streams.EventStreams(None, max_streams=1)
    reader = event_streams.Reader(after_id=0, audience=None, kinds=None, heartbeat=1.0, lifetime=10.0)
    ticket = hub.reserve(reader)
    assert hub.reserve(reader) is None
    ticket.abandon()
    assert hub.open_streams == 0
    hub.close()


@pytest.mark.parametrize("chunked", [True, False])
def test_the_wire_of_one_event_is_shared_by_every_stream_that_hears_it(database, chunked):
    with database.session() as session:
        events.publish(session, "call.queued", {"id": 1})
        events.publish(session, "call.answered", {"id": 1}, audience="ani")
        rows = events.fetch_every(session, 0)

    def stream(audience):
        reader = event_streams.Reader(after_id=0, audience=audience, kinds=None, heartbeat=1.0, lifetime=1.0)
        made = event_streams._Stream(reader, None, chunked)
        made.live = True
        return made

    ani, budi, budi_again = stream("ani"), stream("budi"), stream("budi")
    deliveries = event_streams._deliveries(rows, [ani, budi, budi_again])
    by_member = {id(member): data for data, members in deliveries for member in members}
    assert by_member[id(budi)] is by_member[id(budi_again)]  # joined once for both
    assert by_member[id(ani)].count(b"event: ") == 2 and by_member[id(budi)].count(b"event: ") == 1


def test_a_stream_ends_at_its_lifetime_and_the_console_resumes_where_it_was(runtime, database, make_token):
    token = make_token("calls:read")
    with LiveServer(runtime, {"SSE_STREAM_SECONDS": 1.0}) as server:
        with SseStream(server.port, headers=token) as stream:
            first = _publish(database, payload={"n": 1})
            assert stream.next_event()["id"] == str(first)
            stream.sock.settimeout(5)
            assert stream.response.fp.read().endswith(b"0\r\n\r\n")  # ended whole, not cut
        second = _publish(database, payload={"n": 2})
        with SseStream(server.port, headers={**token, "Last-Event-ID": str(first)}) as stream:
            assert stream.next_event()["id"] == str(second)
