"""Hundreds of console streams woken by one event read the outbox once, and each sees only its own."""

from __future__ import annotations

import threading

from siaga112 import events


def test_streams_woken_together_share_one_read_of_the_outbox(database, monkeypatch):
    with database.session() as session:
        events.publish(session, "call.queued", {"id": 1})
        events.publish(session, "call.answered", {"id": 1}, audience="ani")
        latest = events.latest_id(session)
    reads = []
    real = events.fetch_every
    monkeypatch.setattr(events, "fetch_every", lambda *a, **k: reads.append(1) or real(*a, **k))
    subscriber = events.Subscriber(database)
    start = threading.Barrier(50)
    seen: list[list[int]] = []

    def stream():
        start.wait()
        seen.append([row.id for row in subscriber.read(0, latest)])

    threads = [threading.Thread(target=stream) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 50 and all(ids == seen[0] for ids in seen) and len(seen[0]) == 2
    assert len(reads) <= 3  # one read per wake (a loaded machine may start a straggler 0.25 s late), not 50
    rows = subscriber.read(0, latest)
    assert [events.visible_to(r, "budi") for r in rows] == [True, False]
    assert [events.visible_to(r, "ani") for r in rows] == [True, True]
    assert [events.visible_to(r, None) for r in rows] == [True, False]


def test_a_later_wake_reads_afresh(database):
    subscriber = events.Subscriber(database)
    with database.session() as session:
        events.publish(session, "call.queued", {"id": 1})
        first = events.latest_id(session)
    assert len(subscriber.read(0, first)) == 1
    with database.session() as session:
        events.publish(session, "call.queued", {"id": 2})
        second = events.latest_id(session)
    assert len(subscriber.read(0, second)) == 2
