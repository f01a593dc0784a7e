"""The queue-first call path and the AMI listener through the call journal.

The intake (FastAGI, through the protocol-faithful Asterisk peer) and the AMI listener (through the
captured-session manager peer) write the same calls. With the database down or hung the caller is
released within the intake's budget with the dialplan's fail-open priority, the listener keeps
reading events, and when the database is back every call is on record once, with the intake's
facts and the answer and end times of Asterisk's events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from ivr import call_journal
from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel
from ivr.priority import FAIL_OPEN
from siaga112.models import Call, LocationFix, Recording
from tests.ivr.conftest import peer
from tests.ivr.test_ami_listener import (  # noqa: F401 - fixtures
    CALLER, T0, agent_connect, ami_peer, channel_headers, hangup, hooks, join, listener, siaga_call,
)
from tests.ivr.test_call_journal import outage  # noqa: F401 - fixture
from tests.ivr.test_intake import intake_channel
from tests.support.waiting import wait_until

# Asterisk's TIMEOUT(absolute) on the intake (SIAGA112_INTAKE_BUDGET): the caller must be let go
# well inside it, whatever the database does.
INTAKE_BUDGET_S = 1.5
# A PIDF-LO Circle as Asterisk parsed it (GEOLOC_PROFILE), handed over by the dialplan.
SHAPE = {var.GEOLOCATION: "<cid:loc1@operator.invalid>", var.GEOLOC_FORMAT: "GML",
         var.GEOLOC_LOCATION: 'shape="Circle",crs="2d",pos="-7.98 112.63",radius="50"'}


def newstate(uniqueid, channel):
    """The caller's channel answered (Answer() in [emergency])."""
    return [("Event", "Newstate"), *channel_headers(uniqueid, channel)]


def call_of(database, uniqueid) -> Call | None:
    with database.session() as session:
        return session.scalar(select(Call).where(Call.uniqueid == uniqueid))


def count(database, model=Call) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))




def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc)


def intake(uniqueid: str, **variables) -> Channel:
    return dataclasses.replace(intake_channel(**variables), uniqueid=uniqueid, name=f"PJSIP/operator-trunk-{uniqueid}")


def listener_events(ami_peer, uniqueid, channel, *, talk=True):
    """What Asterisk tells the listener of one queue-first call, with the events' own times."""
    ami_peer.emit(newstate(uniqueid, channel), at=T0)
    ami_peer.emit(siaga_call(priority=str(FAIL_OPEN), uniqueid=uniqueid, channel=channel), at=T0 + 0.05)
    ami_peer.emit(join(uniqueid, channel), at=T0 + 0.06)
    if talk:
        ami_peer.emit(agent_connect(uniqueid=uniqueid), at=T0 + 4.5)
    ami_peer.emit(hangup(uniqueid, channel), at=T0 + 64.5)


def test_the_intake_and_the_listener_at_once_make_one_call_with_the_intakes_facts_and_the_answer(
        agi_server, listener, ami_peer, database, make_user):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    rounds = 8
    uniqueids = [f"1795346700.{n}" for n in range(rounds)]
    for uniqueid in uniqueids:
        channel = f"PJSIP/operator-trunk-{uniqueid}"
        barrier = threading.Barrier(2)
        records = []

        def intake_side():
            barrier.wait(5)
            records.append(asyncio.run(peer(agi_server, intake(uniqueid, **SHAPE), Caller()).run()))

        thread = threading.Thread(target=intake_side)
        thread.start()
        barrier.wait(5)
        ami_peer.emit(newstate(uniqueid, channel), at=T0)
        ami_peer.emit(siaga_call(priority="5", uniqueid=uniqueid, channel=channel), at=T0 + 0.05)
        ami_peer.emit(join(uniqueid, channel), at=T0 + 0.06)
        ami_peer.emit(agent_connect(uniqueid=uniqueid), at=T0 + 4.5)
        thread.join(20)
        assert records and records[0].agi_status == "SUCCESS"

    agi_server.replayer.wake()
    calls = wait_until(lambda: (rows := [call_of(database, u) for u in uniqueids])
                       and all(c is not None and c.state == "answered" and c.ivr_step == "intake" for c in rows)
                       and rows)
    assert count(database) == rounds
    for call in calls:
        assert (call.caller_name, call.pbx_answered_at, call.agent_interface) == ("Budi Santoso", at(0), "PJSIP/1001")
        assert call.answered_at == at(4.5)
    with database.session() as session:
        fixes = dict(session.execute(select(LocationFix.call_id, func.count()).group_by(LocationFix.call_id)).all())
    assert [fixes.get(c.id) for c in calls] == [1] * rounds


def test_with_the_database_hung_the_intake_lets_the_caller_go_within_its_budget_and_the_call_is_written_later(
        agi_server, place_call, outage, database):
    outage.hang()
    started = time.monotonic()
    record = place_call(intake("1795346800.1", **SHAPE), Caller())
    took = time.monotonic() - started

    assert record.agi_status == "SUCCESS" and not record.timed_out
    assert took < INTAKE_BUDGET_S, took
    # Kept, not rated by the database: the dialplan's fail-open priority (above an ordinary call).
    assert record.value(var.QUEUE_PRIO) == str(FAIL_OPEN) and record.value(var.SIAGA_CALL_ID) is None
    assert [e.kind for e in agi_server.journal.waiting()] == [call_journal.INTAKE]

    outage.back()
    agi_server.replayer.wake()
    call = wait_until(lambda: not agi_server.journal.waiting() and call_of(database, "1795346800.1"))
    assert (call.state, call.ivr_step, call.caller_name, call.pbx_answered_at) == (
        "queued", "intake", "Budi Santoso", datetime.fromtimestamp(1795346546.125, tz=timezone.utc))
    assert call.priority == 6  # rated by the database once it answered
    time.sleep(0.3)  # the write the caller gave up on, if it was already running, has landed by now
    assert count(database) == 1 and count(database, LocationFix) == 1 and count(database, Recording) == 2


def test_with_the_database_down_the_intake_and_the_listener_keep_the_call_and_it_is_complete_once_back(
        agi_server, listener, ami_peer, place_call, outage, database, make_user, hooks, hook_log):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    uniqueid, channel = "1795346900.1", "PJSIP/operator-trunk-1795346900.1"
    outage.down()
    started = time.monotonic()
    record = place_call(intake(uniqueid), Caller())
    assert time.monotonic() - started < INTAKE_BUDGET_S
    assert record.value(var.QUEUE_PRIO) == str(FAIL_OPEN)
    listener_events(ami_peer, uniqueid, channel)
    kinds = wait_until(lambda: (k := [e.kind for e in agi_server.journal.waiting()]) and len(k) >= 6 and k)
    assert kinds == ["intake", "open", "intake", "intake", "answer", "end"]

    outage.back()
    agi_server.replayer.wake()
    call = wait_until(lambda: not agi_server.journal.waiting() and call_of(database, uniqueid))
    assert (call.state, call.ivr_step, call.caller_name, call.agent_interface) == (
        "completed", "intake", "Budi Santoso", "PJSIP/1001")
    assert (call.answered_at, call.ended_at) == (at(4.5), at(64.5))  # Asterisk's times, not the replay's
    assert count(database) == 1
    # The recordings part is told the call ended, by whichever service's replayer wrote the end.
    wait_until(lambda: call.id in hook_log.ended + [said[1] for said in hooks.said if said[0] == "call_ended"])


def test_a_call_the_intake_never_saw_is_opened_answered_and_ended_from_the_listeners_events(
        listener, ami_peer, database, make_user, hooks):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    uniqueid, channel = "1795347000.1", "PJSIP/operator-trunk-1795347000.1"
    ami_peer.emit(newstate(uniqueid, channel), at=T0)
    wait_until(lambda: call_of(database, uniqueid))
    assert call_of(database, uniqueid).state == "ivr"  # on record from Asterisk's answer, not queued yet
    ami_peer.emit(join(uniqueid, channel), at=T0 + 1.5)  # FastAGI down: no SiagaCall... then the queue
    ami_peer.emit(agent_connect(uniqueid=uniqueid), at=T0 + 4.5)
    ami_peer.emit(hangup(uniqueid, channel), at=T0 + 64.5)
    call = wait_until(lambda: (c := call_of(database, uniqueid)) and c.state == "completed" and c)
    assert (call.ivr_step, call.caller, call.started_at, call.queued_at) == ("ami", CALLER, at(0), at(1.5))
    assert (call.answered_at, call.ended_at, call.agent_interface) == (at(4.5), at(64.5), "PJSIP/1001")
    hooks.wait_for(("call_ended", call.id))


def test_a_caller_who_hangs_up_before_anything_else_was_seen_is_on_record_as_abandoned(
        listener, ami_peer, database, hooks):
    uniqueid, channel = "1795347100.1", "PJSIP/operator-trunk-1795347100.1"
    ami_peer.emit(hangup(uniqueid, channel), at=T0 + 3)
    # A call-taker's leg hanging up is no call.
    ami_peer.emit([("Event", "Hangup"), *channel_headers("1795347100.2", "PJSIP/1001-0000002a", context="agents")],
                  at=T0 + 3)
    call = wait_until(lambda: (c := call_of(database, uniqueid)) and c.state == "abandoned" and c)
    assert call.ended_at == at(3)
    hooks.wait_for(("call_ended", call.id))
    assert count(database) == 1


def test_with_the_database_hung_the_listener_keeps_reading_and_every_call_is_on_record_once_after(
        listener, ami_peer, outage, database, make_user, agi_server):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    outage.hang()
    calls = [(f"1795347200.{n}", f"PJSIP/operator-trunk-1795347200.{n}") for n in range(5)]
    started = time.monotonic()
    for uniqueid, channel in calls:
        listener_events(ami_peer, uniqueid, channel)
    # 25 events: the first write waits its 0.8 s and is left stuck; the rest are kept at once
    # (had each waited its turn, they would have taken 20 s).
    wait_until(lambda: listener.events.handled >= 25, timeout=20)
    assert time.monotonic() - started < 5.0

    outage.back()
    agi_server.replayer.wake()
    wait_until(lambda: not agi_server.journal.waiting()
               and all((c := call_of(database, u)) is not None and c.state == "completed" for u, _ in calls))
    time.sleep(0.3)
    assert count(database) == len(calls)
    for uniqueid, _channel in calls:
        call = call_of(database, uniqueid)
        assert (call.answered_at, call.ended_at, call.agent_interface) == (at(4.5), at(64.5), "PJSIP/1001")


@pytest.mark.parametrize("mode", ["down", "hang"])
def test_keys_pressed_while_the_database_is_away_reach_the_record(listener, ami_peer, outage, database, agi_server,
                                                                  mode):
    from tests.ivr.test_ami_listener import keys

    uniqueid, channel = "1795346546.18", "PJSIP/operator-trunk-00000012"
    getattr(outage, mode)()
    ami_peer.emit(siaga_call(priority="5"), at=T0)
    ami_peer.emit(join(), at=T0 + 0.1)
    ami_peer.emit(keys("55", "9"), at=T0 + 8)
    wait_until(lambda: listener.events.handled >= 3, timeout=10)
    outage.back()
    agi_server.replayer.wake()
    call = wait_until(lambda: not agi_server.journal.waiting() and (c := call_of(database, uniqueid))
                      and c.silent_emergency and c)
    assert (call.state, call.priority, call.channel) == ("queued", 9, channel)


def test_a_caller_who_gives_up_waiting_ends_at_asterisks_abandon_and_the_hang_up_changes_nothing(
        listener, ami_peer, database, hooks):
    uniqueid, channel = "1795347300.1", "PJSIP/operator-trunk-1795347300.1"
    ami_peer.emit(newstate(uniqueid, channel), at=T0)
    ami_peer.emit(siaga_call(priority="5", uniqueid=uniqueid, channel=channel), at=T0 + 0.05)
    ami_peer.emit(join(uniqueid, channel), at=T0 + 0.06)
    ami_peer.emit([("Event", "QueueCallerAbandon"), *channel_headers(uniqueid, channel), ("Queue", "112"),
                   ("Position", "1"), ("OriginalPosition", "1"), ("HoldTime", "20")], at=T0 + 20)
    ami_peer.emit(hangup(uniqueid, channel), at=T0 + 20.4)
    call = wait_until(lambda: (c := call_of(database, uniqueid)) and c.state == "abandoned" and c)
    assert call.ended_at == at(20)
    hooks.wait_for(("call_ended", call.id))
    assert [said for said in hooks.said if said[0] == "call_ended"] == [("call_ended", call.id)]


def test_the_call_takers_part_ending_ends_the_call_at_that_time(listener, ami_peer, database, make_user):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    uniqueid, channel = "1795347400.1", "PJSIP/operator-trunk-1795347400.1"
    listener_events(ami_peer, uniqueid, channel, talk=True)  # ...with the hang-up at 64.5 s
    ami_peer.emit([("Event", "AgentComplete"), *channel_headers(uniqueid, channel), ("Queue", "112"),
                   ("Interface", "PJSIP/1001"), ("HoldTime", "4"), ("TalkTime", "60"), ("Reason", "caller")],
                  at=T0 + 64.7)
    call = wait_until(lambda: (c := call_of(database, uniqueid)) and c.state == "completed" and c)
    assert call.ended_at == at(64.5)  # the first end Asterisk told stands


def test_a_listener_write_that_waited_past_its_time_is_cancelled_and_never_runs(agi_server, outage, database):
    writer = call_journal.CallWriter(agi_server.journal, database, timeout_s=2.0)
    data = {"call_ref": None, "caller": None, "interface": "PJSIP/1001"}
    outage.hang()
    first = threading.Thread(target=writer.write, args=("1795347500.1", [(call_journal.ANSWER, data)]))
    first.start()
    wait_until(lambda: writer._running_since is not None, timeout=5)
    # Handed in while the first is stuck but not yet past its time: it waits its turn, in vain.
    assert writer.write("1795347500.2", [(call_journal.ANSWER, data)]) is None
    first.join(5)
    assert writer.cancelled == 1
    assert sorted(e.key for e in agi_server.journal.waiting()) == ["1795347500.1", "1795347500.2"]
    outage.back()
    writer.close()


def test_with_the_database_down_and_the_journal_unwritable_the_intake_still_queues_the_caller(
        agi_server, place_call, outage, monkeypatch):
    def full(*_args, **_kwargs):
        raise call_journal.JournalError("No space left on device")

    monkeypatch.setattr(agi_server.journal, "append", full)
    outage.down()
    started = time.monotonic()
    record = place_call(intake("1795347600.1"), Caller())
    assert time.monotonic() - started < INTAKE_BUDGET_S
    assert record.agi_status == "SUCCESS" and record.value(var.QUEUE_PRIO) == str(FAIL_OPEN)
    assert record.value(var.SIAGA_CALL_ID) is None  # the listener opens it from Asterisk's events


def test_live_transcription_of_a_call_kept_while_the_database_was_down_starts_once_its_record_is_written(
        listener, ami_peer, outage, database, agi_server, hooks):
    from tests.ivr.test_ami_listener import BASE, UNIQUEID

    outage.down()
    ami_peer.emit(siaga_call(priority="7"), at=T0)
    wait_until(lambda: agi_server.journal.waiting())
    outage.back()
    agi_server.replayer.wake()
    call = wait_until(lambda: not agi_server.journal.waiting() and call_of(database, UNIQUEID))
    ami_peer.emit(join(), at=T0 + 0.1)
    hooks.wait_for(("started", call.id, BASE + "-caller.wav"))
