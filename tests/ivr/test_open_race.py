"""Opening a call is idempotent by Asterisk's uniqueid: the intake and the AMI listener open the
same call at the same moment, and the record is one row with what both knew.

The race is run for real: two threads, each with its own database connection, released together
by a barrier, many times, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ivr.calls import (
    LISTENER_STEP, FinishIvr, IntakeCall, IvrOutcome, NewCall, OpenCall, answer_call, end_call,
)
from ivr.location import Fix
from ivr.priority import PriorityFacts
from siaga112.models import Call, LocationFix, Recording, User

CALLER = "+6281234567890"
ANSWERED = datetime(2026, 12, 7, 3, 0, 0, 125000, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=30)
ROUNDS = 25


def intake_new(uniqueid: str) -> NewCall:
    """What the intake knows: the name, a PIDF-LO fix, Asterisk's answer time."""
    return NewCall(uniqueid=uniqueid, channel=f"PJSIP/trunk-{uniqueid}", caller=CALLER, caller_raw=CALLER,
                   caller_name="Budi Santoso", ivr_step="intake", answered_at=ANSWERED,
                   fixes=[Fix("pidf-lo", -7.98, 112.63, 50.0)])


def listener_new(uniqueid: str) -> NewCall:
    """What the AMI listener knows from an event's channel block: number and channel, no name."""
    return NewCall(uniqueid=uniqueid, channel=f"PJSIP/trunk-{uniqueid}", caller=CALLER, caller_raw=CALLER,
                   caller_name=None, ivr_step=LISTENER_STEP, started_at=ANSWERED + timedelta(seconds=0.2))


def race(*writers):
    """Run the writers at the same instant, each on its own thread; re-raise what any raised."""
    barrier = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def run(writer):
        try:
            barrier.wait(5)
            writer()
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_the_intake_and_the_listener_opening_one_call_at_once_make_one_row_with_both_their_facts(
        database, make_user):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    uniqueids = [f"1795346546.{n}" for n in range(ROUNDS)]
    for uniqueid in uniqueids:
        recordings = {"full": f"/rec/112-{uniqueid}.wav", "statement": f"/rec/112-{uniqueid}-caller.wav"}

        def intake():
            with database.session() as session:
                IntakeCall.run_batch(session, [IntakeCall(intake_new(uniqueid), WINDOW, recordings)])

        def listener():
            # UserEvent SiagaCall, then AgentConnect: two transactions, as the listener writes them.
            with database.session() as session:
                [(call_id, _priority)] = IntakeCall.run_batch(session, [IntakeCall(listener_new(uniqueid), WINDOW,
                                                                                   recordings)])
            with database.session() as session:
                answer_call(session, call_id, "PJSIP/1001", at=ANSWERED + timedelta(seconds=4))

        race(intake, listener)

    with database.session() as session:
        calls = session.scalars(select(Call).order_by(Call.id)).all()
        fixes = dict(session.execute(select(LocationFix.call_id, func.count()).group_by(LocationFix.call_id)).all())
        recordings = session.scalar(select(func.count()).select_from(Recording))
        agent = session.scalar(select(User.id).where(User.username == "ani"))
    assert [c.uniqueid for c in calls] == uniqueids  # one row each, none lost
    for call in calls:
        # The intake's facts, whoever came first...
        assert (call.ivr_step, call.caller_name, call.pbx_answered_at, call.started_at) == (
            "intake", "Budi Santoso", ANSWERED, ANSWERED), call.uniqueid
        assert fixes.get(call.id) == 1
        # ...and the listener's answer.
        assert (call.state, call.agent_id, call.answered_at) == ("answered", agent, ANSWERED + timedelta(seconds=4))
    assert recordings == 2 * ROUNDS


def test_two_intakes_of_one_channel_at_once_are_one_call_rated_once(database):
    for n in range(ROUNDS):
        uniqueid = f"1795346600.{n}"
        results: list = []

        def intake():
            with database.session() as session:
                results.extend(IntakeCall.run_batch(session, [IntakeCall(intake_new(uniqueid), WINDOW)]))

        race(intake, intake)
        assert results[0] == results[1]  # the same call id, and the priority on record
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == ROUNDS
        assert session.scalar(select(func.count()).select_from(LocationFix)) == ROUNDS


def test_a_listener_that_opened_the_call_first_gives_way_to_the_intakes_step_and_rating(database):
    with database.session() as session:
        [(call_id, first)] = IntakeCall.run_batch(session, [IntakeCall(listener_new("1.1"), WINDOW)])
    with database.session() as session:
        [(same, rated)] = IntakeCall.run_batch(session, [IntakeCall(intake_new("1.1"), WINDOW)])
    with database.session() as session:
        # The listener again (a reconnect's QueueStatus): it changes nothing the intake said.
        IntakeCall.run_batch(session, [IntakeCall(listener_new("1.1"), WINDOW)])
        call = session.get(Call, call_id)
    assert same == call_id and (first, rated) == (5, 6)  # the intake knew a position
    assert (call.state, call.ivr_step, call.priority, call.caller_name) == ("queued", "intake", 6, "Budi Santoso")
    assert call.pbx_answered_at == ANSWERED and call.started_at == ANSWERED


def test_a_late_opener_never_moves_an_ended_call_back(database):
    with database.session() as session:
        [call] = OpenCall.run_batch(session, [OpenCall(listener_new("1.2"), WINDOW)])
        end_call(session, call.id, at=ANSWERED + timedelta(seconds=9))
    with database.session() as session:
        [(call_id, _priority)] = IntakeCall.run_batch(session, [IntakeCall(intake_new("1.2"), WINDOW)])
        FinishIvr.run_batch(session, [FinishIvr(call_id, IvrOutcome("queued", "connect", service_choice="fire"),
                                                PriorityFacts(service_choice="fire"))])
        row = session.get(Call, call_id)
    assert call_id == call.id
    assert (row.state, row.ended_at, row.queued_at) == ("abandoned", ANSWERED + timedelta(seconds=9), None)
    assert (row.ivr_step, row.service_choice, row.caller_name) == ("connect", "fire", "Budi Santoso")
