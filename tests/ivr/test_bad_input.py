"""Clients and callers that are not what they should be: each is answered with a log line,
and a good call running at the same time is not harmed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel
from ivr.hooks import IvrHooks
from ivr.identity import NAME_MAX_CHARS
from ivr.priority import BASE, FAIL_OPEN
from ivr.server import AgiService
from tests.ivr.conftest import call_row, peer


@pytest.fixture(autouse=True)
def patient_database(runtime):
    """These tests are about what clients send, not about a slow database: a write that a busy
    test machine slows past the product's 0.8 s must not turn their calls fail-open."""
    runtime.settings.ivr_db_timeout_seconds = 5.0


@pytest.fixture
def impatient_server(runtime):
    """A server that waits only a moment for a client's environment."""
    runtime.settings.agi_env_timeout_seconds = 0.3
    service = AgiService(runtime, hooks=IvrHooks())
    service.start()
    yield service
    service.stop()


async def raw_client(port: int, data: bytes, *, wait_close: float = 5.0) -> bytes:
    """Send bytes as a client that is not Asterisk; return what the server sent before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), wait_close)
    except ConnectionResetError:  # the server closed with our bytes unread: a reset, as refused
        return b""
    finally:
        writer.close()


def with_good_call(server, *bad):
    """Run the bad clients and one good call at once; return the good call's record."""

    async def main():
        good = peer(server, Channel(caller_id="+6281234567890", caller_name="Siti"), Caller())
        results = await asyncio.gather(good.run(), *bad)
        return results[0]

    return asyncio.run(main())


def assert_good_call_queued(record, database):
    assert record.agi_status == "SUCCESS"
    call = call_row(database, record.value(var.SIAGA_CALL_ID))
    assert (call.state, call.caller, call.caller_name) == ("queued", "+6281234567890", "Siti")


ENV_START = b"agi_network: yes\nagi_network_script: ivr\n"


@pytest.mark.parametrize("data, logged", [
    (b"hello\r\nGET / HTTP/1.1\r\n\r\n", "not `agi_name: value`"),
    (ENV_START + b"agi_callerid: " + b"9" * 200_000 + b"\n\n", "longer than"),
    (ENV_START + b"agi_calleridname: " + b"x" * 20_000 + b"\n\n", "over the limit"),
    (ENV_START + b"".join(b"agi_arg_%d: x\n" % n for n in range(1, 300)) + b"\n", "environment lines"),
    (b"\x00\xff\xfe garbage \x00\n\n", "not `agi_name: value`"),
])
def test_garbage_or_oversized_environment_is_refused_and_logged(data, logged, agi_server, database, caplog):
    record = with_good_call(agi_server, raw_client(agi_server.port, data))

    assert_good_call_queued(record, database)
    assert "refused" in caplog.text and logged in caplog.text
    assert agi_server.server.refused == 1


def test_client_that_never_sends_its_environment_is_dropped_after_the_timeout(impatient_server, database, caplog):
    record = with_good_call(impatient_server, raw_client(impatient_server.port, b""))

    assert_good_call_queued(record, database)
    assert "no complete environment within 0.3 s" in caplog.text


def test_client_closing_before_its_environment_is_refused(agi_server, database, caplog):
    async def closes_at_once():
        _reader, writer = await asyncio.open_connection("127.0.0.1", agi_server.port)
        writer.write(b"agi_network: yes\n")
        writer.close()

    record = with_good_call(agi_server, closes_at_once())

    assert_good_call_queued(record, database)
    assert "closed before sending its environment" in caplog.text


def test_unknown_agi_path_ends_the_session_at_once_so_the_dialplan_queues_the_caller(agi_server, database, caplog):
    stray = peer(agi_server, Channel(script="no-such-step/../../etc"), Caller())
    record, stray_record = with_good_call(agi_server, stray.run()), stray.record

    assert_good_call_queued(record, database)
    assert stray_record.agi_status == "SUCCESS" and stray_record.commands == []
    assert "has no step" in caplog.text


@pytest.mark.parametrize("name, stored", [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ('Budi "the boss" O\'Neil', 'Budi "the boss" O\'Neil'),
    ("Bu\x00di\x1b[31m", "Budi[31m"),
    ("A" * 5000, "A" * NAME_MAX_CHARS),
    ("\u202eevil\u200b", "evil"),
])
def test_hostile_caller_names_are_kept_as_plain_text(name, stored, agi_server, database):
    hostile = peer(agi_server, Channel(caller_id="+6285712345678", caller_name=name), Caller())
    record = with_good_call(agi_server, hostile.run())

    assert_good_call_queued(record, database)
    call = call_row(database, hostile.record.value(var.SIAGA_CALL_ID))
    assert (call.state, call.caller_name) == ("queued", stored)


@pytest.mark.parametrize("number", ["abc", "<script>", "112", "+0", "9" * 60, "'; DROP TABLE calls; --", ""])
def test_caller_numbers_that_are_not_numbers_leave_the_call_unidentified_but_queued(number, agi_server, database, caplog):
    caplog.set_level(logging.INFO, logger="ivr")
    odd = peer(agi_server, Channel(caller_id=number), Caller())
    record = with_good_call(agi_server, odd.run())

    assert_good_call_queued(record, database)
    call = call_row(database, odd.record.value(var.SIAGA_CALL_ID))
    assert (call.state, call.caller) == ("queued", None)
    assert odd.record.value(var.QUEUE_PRIO) == str(BASE)


def test_a_step_that_breaks_still_queues_the_caller_with_its_variables(runtime, database, caplog):
    async def broken(session, context):
        raise RuntimeError("boom")

    from ivr.steps import ROUTES

    service = AgiService(runtime, routes={**ROUTES, "broken": broken})
    service.start()
    try:
        record = asyncio.run(peer(service, Channel(script="broken"), Caller()).run())
    finally:
        service.stop()
    assert record.agi_status == "SUCCESS"
    assert "FastAGI broken (uniqueid" in caplog.text and "Traceback" in caplog.text


def test_database_failure_in_the_ivr_still_sets_the_fail_open_queue_priority(agi_server, database, caplog, monkeypatch):
    from ivr import calls

    def fail(cls, session, jobs):
        raise RuntimeError("database down")

    monkeypatch.setattr(calls.OpenCall, "run_batch", classmethod(fail))
    record = asyncio.run(peer(agi_server, Channel(), Caller()).run())

    assert record.agi_status == "SUCCESS"
    assert record.value(var.QUEUE_PRIO) == str(FAIL_OPEN)  # the dialplan's own, never below it
    assert "kept in the call journal" in caplog.text


def test_asterisk_that_stops_replying_ends_only_its_own_session(runtime, database, caplog):
    runtime.settings.agi_command_timeout_seconds = 0.5
    service = AgiService(runtime, hooks=IvrHooks())
    service.start()
    env = b"".join(b"%s\n" % line.encode() for line in Channel(caller_id="+6281234567890").env_lines("h", 1))

    async def mute_asterisk():
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        writer.write(env)
        first = await reader.readline()  # ANSWER, never answered
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return first, rest

    try:
        record = with_good_call(service, mute_asterisk())
    finally:
        service.stop()
    assert_good_call_queued(record, database)
    assert "no reply in time" in caplog.text
