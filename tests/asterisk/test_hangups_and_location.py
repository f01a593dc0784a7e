"""Callers who hang up in each phase of a call, and where a caller is as the network says it."""

from __future__ import annotations

from ivr.location import parse_access_network_info
from siaga112.models import CellTower
from tests.asterisk.checks import call_of, calls, eventually, fixes_of
from tests.asterisk.harness import pidf_lo



def _the_call(database, caller: str):
    return eventually(lambda: next((c for c in calls(database) if c.caller == caller and c.ended_at), None),
                      what=f"the call from {caller} ended on record")


def test_a_caller_who_hangs_up_at_once_or_while_waiting_leaves_an_abandoned_call(asterisk, sipp, ami, database):
    # No call-taker's phone is registered: every caller waits in the queue, a second after the answer.
    at_once = sipp.trunk_call(caller="+6281111111111", hangup_ms=1500)
    waiting = sipp.trunk_call(caller="+6282222222222", hangup_ms=12_000)

    joined = ami.wait_event("QueueCallerJoin", Queue="112", CallerIDNum="+6282222222222", timeout=10)
    left = ami.wait_event("QueueCallerAbandon", Queue="112", Uniqueid=joined.get("Uniqueid"), timeout=30)
    assert at_once.wait(20) == 0, at_once.report()
    assert waiting.wait(20) == 0, waiting.report()

    early = _the_call(database, "+6281111111111")
    assert early.state == "abandoned" and early.ivr_step == "intake" and early.answered_at is None
    queued = _the_call(database, "+6282222222222")
    assert queued.state == "abandoned" and queued.ivr_step == "intake" and queued.answered_at is None
    assert int(left.get("HoldTime")) >= 9
    assert (queued.ended_at - queued.pbx_answered_at).total_seconds() >= 11


def test_a_caller_who_hangs_up_while_talking_to_the_call_taker_leaves_a_completed_call(
        asterisk, sipp, phones, ami, database):
    [phone] = phones(1, answer_ms=500, talk_ms=None)  # the call-taker stays until the caller goes

    caller = sipp.trunk_call(caller="+6283333333333", hangup_ms=12_000)

    ami.wait_event("AgentConnect", Queue="112", timeout=12)
    assert caller.running(), "the caller hung up before talking to the call-taker"
    assert caller.wait(30) == 0, caller.report()
    call = _the_call(database, "+6283333333333")
    assert call.state == "completed" and call.answered_at < call.ended_at
    assert eventually(lambda: phone.run.log_lines("asterisk"), what="the phone hung up by Asterisk")


def test_pidf_lo_by_value_and_the_serving_cell_in_the_invite_reach_the_calls_location(asterisk, sipp, database):
    pani = "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B"
    cell = parse_access_network_info(pani)
    with database.session() as session:
        session.add(CellTower(radio=cell.radio, mcc=cell.mcc, mnc=cell.mnc, area=cell.area, cell=cell.cell,
                              lat=-7.9797, lon=112.6304, range_m=1500.0))
        session.commit()
    mark = asterisk.log_size()

    caller = sipp.trunk_call(caller="+6284444444444", hangup_ms=6000,
                             pidf=pidf_lo(-7.966620, 112.632632, 35, confidence=90, method="GPS"),
                             access_network_info=pani)

    assert caller.wait(30) == 0, caller.report()
    call = _the_call(database, "+6284444444444")
    fixes = {f.source: f for f in fixes_of(database, call.id)}
    assert set(fixes) == {"pidf-lo", "cell"}
    pidf = fixes["pidf-lo"]
    assert (pidf.lat, pidf.lon, pidf.accuracy_m) == (-7.96662, 112.632632, 35.0)
    assert pidf.detail["shape"] == "Circle" and pidf.detail["method"] == "GPS" and pidf.detail["confidence"] == 90
    assert pidf.detail["geolocation"].startswith("<cid:location")
    assert (fixes["cell"].lat, fixes["cell"].lon, fixes["cell"].accuracy_m) == (-7.9797, 112.6304, 1500.0)
    assert call_of(database, call.id).state == "abandoned"
    assert asterisk.problems(mark) == []


def test_a_call_without_location_headers_logs_nothing_about_location(asterisk, sipp, database):
    mark = asterisk.log_size()

    caller = sipp.trunk_call(caller="+6285555555555", hangup_ms=4000)

    assert caller.wait(30) == 0, caller.report()
    call = _the_call(database, "+6285555555555")
    assert fixes_of(database, call.id) == []
    assert "no geoloc profile" not in asterisk.log_text(mark)
    assert asterisk.problems(mark) == []
