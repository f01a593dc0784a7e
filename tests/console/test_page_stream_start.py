"""A console page and its event stream: nothing committed between making the page and opening
its stream is lost.

A page is made from the database, then its script opens the event stream. The page carries where
its stream starts, read before anything it shows; without it the stream starts at the newest event
when it connects, and a change committed in between (a call-taker answering a call while the
floor was loading) is on neither the page nor the stream: the floor showed her "available" until
its 30 s refresh.
"""

from __future__ import annotations

import re

import pytest

from siaga112 import events
from tests.console import factories
from tests.console.sse import SseStream
from tests.support.console_client import sign_in

_AFTER = re.compile(r'<body[^>]*\sdata-after="(\d+)"')


def _row(html: str, username: str) -> str:
    match = re.search(rf'<tr data-user="{username}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {username} on the floor"
    return match.group(1)


def test_a_call_answered_while_the_floor_loads_reaches_the_floors_stream(client, console, database):
    sign_in(client, database, "calltaker", username="sari", phone_interface="PJSIP/1007")
    sign_in(client, database, "supervisor")  # the client is the supervisor from here on
    call_id = factories.queued_call(database, caller="+6281200008888")
    floor = client.get("/supervisor/").get_data(as_text=True)
    assert "Dalam panggilan" not in _row(floor, "sari")
    found = _AFTER.search(floor)
    assert found, "the floor does not say where its event stream starts"
    factories.answer(database, call_id, "PJSIP/1007")  # before the floor's script opens its stream
    cookie = {"Cookie": f"session={client.get_cookie('session').value}"}
    with SseStream(console.port, f"/api/v1/events?after={found.group(1)}", cookie) as stream:
        heard = [stream.next_event() for _ in range(2)]  # the answer's agent.status, then call.updated
    assert [(event["event"], event["data"]["payload"].get("status")) for event in heard] == [
        ("agent.status", "on_call"), ("call.updated", None)]
    assert heard[0]["data"]["payload"]["username"] == "sari"


@pytest.mark.parametrize("path", ["/", "/callbacks", "/incidents", "/incidents/new", "/map",
                                  "/supervisor/", "/supervisor/recordings", "/supervisor/audit"])
def test_every_console_page_says_where_its_event_stream_starts(client, database, path):
    # Every page has the screen-pop and the user's own state, whatever else it shows.
    sign_in(client, database, "supervisor")
    factories.queued_call(database)
    with database.session() as session:
        newest = events.latest_id(session)
    page = client.get(path)
    assert page.status_code == 200
    found = _AFTER.search(page.get_data(as_text=True))
    assert found, f"{path} does not say where its event stream starts"
    assert int(found.group(1)) == newest
