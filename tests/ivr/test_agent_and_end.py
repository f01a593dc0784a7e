"""`agent-connected` (screen-pop on the call-taker's console) and `call-ended` (the final state)."""

from __future__ import annotations

import pytest

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel, HangUp
from ivr.calls import interface_variants
from siaga112.models import User
from tests.ivr.conftest import call_row, events_of

CALLER = "+6281234567890"


def agent_leg(call_id, interface="Local/agent1@agents/n") -> Channel:
    """The member's channel as Queue() runs the hook on it (AGI-NOTES: CALLERID(num) is the queue's)."""
    return Channel(script="agent-connected", name="Local/agent1@agents-0000016a;1", caller_id=CALLER,
                   context="agent-connect", extension="s", answered=True,
                   variables={var.SIAGA_CALL_ID: str(call_id), "CALLERID(num)": "112",
                              var.CONNECTEDLINE_NUM: CALLER, var.QUEUENAME: "112", var.MEMBERINTERFACE: interface})


def hangup_leg(call_id) -> Channel:
    return Channel(script="call-ended", caller_id=CALLER, extension="h", answered=True,
                   variables={var.SIAGA_CALL_ID: str(call_id)})


@pytest.mark.parametrize("stored, reported", [
    ("Local/agent1@agents", "Local/agent1@agents/n"),
    ("Local/agent1@agents/n", "Local/agent1@agents/n"),
    ("PJSIP/1001", "PJSIP/1001"),
])
def test_agent_connected_marks_the_call_answered_and_pops_it_on_that_agents_console(
        stored, reported, place_call, make_user, database):
    make_user("calltaker", username="agent1", phone_interface=stored)
    call_id = place_call(Channel(caller_id=CALLER), Caller()).value(var.SIAGA_CALL_ID)

    record = place_call(agent_leg(call_id, reported), Caller())

    assert record.agi_status == "SUCCESS"
    call = call_row(database, call_id)
    assert call.state == "answered" and call.answered_at is not None and call.agent_interface == reported
    with database.session() as session:
        assert session.get(User, call.agent_id).username == "agent1"
    [pop] = events_of(database, "call.answered")
    assert (pop.audience, pop.payload["id"], pop.payload["agent"]) == ("agent1", call.id, "agent1")
    assert any(e.payload.get("state") == "answered" for e in events_of(database, "call.updated"))


def test_agent_connected_on_an_unknown_interface_still_marks_the_call_answered(place_call, database, caplog):
    call_id = place_call(Channel(caller_id=CALLER), Caller()).value(var.SIAGA_CALL_ID)

    place_call(agent_leg(call_id, "PJSIP/9999"), Caller())

    call = call_row(database, call_id)
    assert call.state == "answered" and call.agent_id is None
    assert "no console user's phone interface" in caplog.text
    assert events_of(database, "call.answered") == []


def test_call_ended_after_an_answer_records_completed_and_tells_recordings(place_call, make_user, database, hook_log):
    make_user("calltaker", username="agent1", phone_interface="PJSIP/1001")
    call_id = place_call(Channel(caller_id=CALLER), Caller()).value(var.SIAGA_CALL_ID)
    place_call(agent_leg(call_id, "PJSIP/1001"), Caller())

    place_call(hangup_leg(call_id), Caller())

    call = call_row(database, call_id)
    assert (call.state, call.ended_at is not None) == ("completed", True)
    assert [e.payload["state"] for e in events_of(database, "call.ended")] == ["completed"]
    assert hook_log.ended == [call.id]


def test_call_ended_without_an_answer_records_abandoned(place_call, database, hook_log):
    call_id = place_call(Channel(caller_id=CALLER), Caller()).value(var.SIAGA_CALL_ID)

    place_call(hangup_leg(call_id), Caller())

    call = call_row(database, call_id)
    assert call.state == "abandoned" and call.ended_at is not None
    assert hook_log.ended == [call.id]


def test_call_ended_after_a_hang_up_in_the_ivr_keeps_the_step_and_announces_the_end_once(place_call, database, hook_log):
    record = place_call(Channel(caller_id=CALLER), Caller(hangup=HangUp(during="welcome", after=0.1)))
    call_id = record.value(var.SIAGA_CALL_ID)

    place_call(hangup_leg(call_id), Caller())
    place_call(hangup_leg(call_id), Caller())

    call = call_row(database, call_id)
    assert (call.state, call.ivr_step) == ("abandoned", "greet")
    assert len(events_of(database, "call.ended")) == 1
    assert hook_log.ended == [call.id, call.id]


def test_call_ended_finds_the_call_by_uniqueid_when_the_variable_is_missing(place_call, database):
    channel = Channel(caller_id=CALLER)
    place_call(channel, Caller())

    place_call(Channel(script="call-ended", uniqueid=channel.uniqueid, answered=True), Caller())

    assert call_row(database, 1).state == "abandoned"


def test_call_ended_for_a_call_never_seen_is_logged_and_harmless(place_call, caplog):
    record = place_call(Channel(script="call-ended", answered=True), Caller())
    assert record.agi_status == "SUCCESS"
    assert "no call on record" in caplog.text


def test_member_interface_forms_are_the_same_phone():
    assert interface_variants("Local/agent1@agents/n") == ["Local/agent1@agents/n", "Local/agent1@agents"]
    assert interface_variants(" PJSIP/1001 ") == ["PJSIP/1001", "PJSIP/1001/n"]


def test_listeners_provided_on_the_runtime_are_the_ones_the_service_calls(runtime, hook_log):
    from ivr.hooks import IvrHooks
    from ivr.server import HOOKS_CLIENT, AgiService

    hooks = IvrHooks(statement_listener=hook_log, call_ended_listener=hook_log)
    runtime.provide(HOOKS_CLIENT, hooks)
    assert AgiService(runtime).hooks is hooks


def test_a_failing_listener_is_logged_and_the_call_goes_on(runtime, database, caplog):
    import asyncio

    from ivr.hooks import IvrHooks
    from ivr.server import AgiService
    from tests.ivr.conftest import peer

    def broken(call_id):
        raise RuntimeError("recordings down")

    service = AgiService(runtime, hooks=IvrHooks(call_ended_listener=broken))
    service.start()
    try:
        call_id = asyncio.run(peer(service, Channel(caller_id=CALLER), Caller()).run()).value(var.SIAGA_CALL_ID)
        record = asyncio.run(peer(service, hangup_leg(call_id), Caller()).run())
    finally:
        service.stop()
    assert record.agi_status == "SUCCESS" and call_row(database, call_id).state == "abandoned"
    assert "IVR hook call_ended failed" in caplog.text


def test_call_ended_overtaking_the_ivrs_last_write_keeps_one_end_and_notes_the_step(database):
    from datetime import timedelta

    from ivr.calls import IvrOutcome, NewCall, end_call, finish_ivr, open_call
    from ivr.priority import PriorityFacts

    with database.session() as session:
        call_id = open_call(session, NewCall("1.7", None, CALLER, CALLER, None, "locate"),
                            repeat_window=timedelta(minutes=10)).id
    with database.session() as session:
        assert end_call(session, call_id) == "abandoned"
    with database.session() as session:
        finish_ivr(session, call_id, IvrOutcome(state="abandoned", ivr_step="greet",
                                                recordings={"full": "/r/call-full.wav"}), PriorityFacts())

    call = call_row(database, call_id)
    assert (call.state, call.ivr_step) == ("abandoned", "greet")
    assert len(events_of(database, "call.ended")) == 1
    from sqlalchemy import select

    from siaga112.models import Recording

    with database.session() as session:
        assert [r.kind for r in session.scalars(select(Recording).where(Recording.call_id == call_id))] == ["full"]
