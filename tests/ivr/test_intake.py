"""`intake`: the queue-first entry stores and rates the call in milliseconds and says nothing."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import select

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel
from ivr.simulate import channel_variables
from siaga112.models import AmlMessage, Call, Recording, Reporter
from tests.ivr.conftest import call_row, fixes_of

CALLER = "+6281234567890"
ANSWERED = "1795346546.125"  # the dialplan's ${STRFTIME(,UTC,%s.%3q)}
BASE = "/var/spool/asterisk/siaga112/112-1795346546.7"


def intake_channel(**variables) -> Channel:
    """The caller's channel as [emergency] hands it to the intake: answered, recordings started."""
    values = {var.SIAGA_ANSWERED_AT: ANSWERED, var.SIAGA_RECORDING: BASE, **variables}
    return Channel(script="intake", caller_id=CALLER, caller_name="Budi Santoso", answered=True,
                   variables=values)


def test_intake_stores_the_call_as_queued_from_asterisks_answer_and_says_nothing(place_call, database):
    began = time.monotonic()
    record = place_call(intake_channel(), Caller())
    took = time.monotonic() - began

    assert record.agi_status == "SUCCESS" and not record.timed_out
    # Nothing played, recorded, asked or answered: the dialplan has done that.
    verbs = {line.split()[0] for line in record.commands}
    assert verbs <= {"GET", "SET"}, record.commands
    assert record.played == [] and record.recordings == []
    call = call_row(database, record.value(var.SIAGA_CALL_ID))
    assert (call.state, call.ivr_step, call.caller, call.caller_name) == ("queued", "intake", CALLER, "Budi Santoso")
    assert call.pbx_answered_at == datetime.fromtimestamp(1795346546.125, tz=timezone.utc)
    assert call.started_at == call.pbx_answered_at and call.queued_at is not None
    assert record.value(var.QUEUE_PRIO) == str(call.priority) == "5"
    assert took < 2.0  # well inside SIAGA112_INTAKE_BUDGET even on a busy test machine
    with database.session() as session:
        rows = {r.kind: r.path for r in session.scalars(select(Recording).where(Recording.call_id == call.id))}
    assert rows == {"full": BASE + ".wav", "statement": BASE + "-caller.wav"}


def test_intake_sets_the_call_id_last_so_the_dialplan_reads_it_as_finished(place_call):
    record = place_call(intake_channel(), Caller())
    names = [name for name, _value in record.variables_set]
    assert names == [var.QUEUE_PRIO, var.SIAGA_CALL_ID]


def test_intake_takes_the_network_location_and_a_waiting_aml_and_rates_the_call_higher(
        place_call, database, shared_data):
    document = shared_data / "messages/pidf_lo/dec112/simple-circle__valid-circle.xml"
    with database.session() as session:
        session.add(AmlMessage(caller=CALLER, lat=-7.96, lon=112.62, accuracy_m=12, raw="A\"ML=1", received_at=datetime.now(timezone.utc)))
    record = place_call(intake_channel(**channel_variables(str(document), None)), Caller())

    call_id = record.value(var.SIAGA_CALL_ID)
    assert sorted(f.source for f in fixes_of(database, call_id)) == ["aml", "pidf-lo"]
    assert record.value(var.QUEUE_PRIO) == "6"  # known location: a unit can go before the first question


def test_a_prank_record_lowers_the_caller_who_is_queued_all_the_same(place_call, database):
    with database.session() as session:
        session.add(Reporter(phone=CALLER, strikes=3, blocked=True))
    record = place_call(intake_channel(), Caller())
    call = call_row(database, record.value(var.SIAGA_CALL_ID))
    assert (call.state, call.prank_suspect, call.priority) == ("queued", True, 1)


def test_the_same_channel_taken_in_twice_is_one_call(place_call, database):
    channel = intake_channel()
    first = place_call(channel, Caller())
    second = place_call(channel, Caller())
    assert first.value(var.SIAGA_CALL_ID) == second.value(var.SIAGA_CALL_ID)
    with database.session() as session:
        assert len(list(session.scalars(select(Call)))) == 1


def test_an_answer_time_that_is_no_clock_is_ignored(place_call, database):
    record = place_call(intake_channel(**{var.SIAGA_ANSWERED_AT: "tomorrow"}), Caller())
    call = call_row(database, record.value(var.SIAGA_CALL_ID))
    assert call.pbx_answered_at is None and call.started_at is not None


def test_the_ivr_menu_is_timed_from_asterisks_answer_too(place_call, database):
    record = place_call(Channel(caller_id=CALLER, variables={var.SIAGA_ANSWERED_AT: ANSWERED}), Caller())
    call = call_row(database, record.value(var.SIAGA_CALL_ID))
    assert call.ivr_step != "intake" and call.pbx_answered_at == datetime.fromtimestamp(1795346546.125, tz=timezone.utc)
