"""Floor statistics from rows built in each test, with exact expected numbers at the boundaries."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from agent_console import stats
from siaga112.models import Alarm, Call, Incident, User

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # 13:00 WIB
START = NOW - timedelta(hours=6)


def call(session, *, started=None, queue_wait=None, answer_after=None, **values) -> Call:
    """A call Asterisk answered at `started`, that joined the queue 2 s later (or at `queue_wait`) and
    was answered by a call-taker `answer_after` s after Asterisk's answer."""
    started = started or START + timedelta(minutes=5)
    queued = started + timedelta(seconds=2) if queue_wait is None else queue_wait
    row = Call(uniqueid=f"u{started.timestamp()}-{uuid.uuid4().hex[:8]}", caller="+6281234567890",
               started_at=started, pbx_answered_at=started, queued_at=queued,
               answered_at=(started + timedelta(seconds=answer_after)) if answer_after is not None else None,
               **{"state": "answered" if answer_after is not None else "queued", **values})
    session.add(row)
    session.flush()
    return row


def test_answer_shares_are_exact_at_the_boundaries_which_count_as_within(session):
    delays = [3, 5, 9.999, 10.0, 10.001, 12, 15.0, 15.5, 20.0, 25]
    for seconds in delays:
        call(session, answer_after=seconds)

    result = stats.answer_shares(stats.answer_delays(session, START, NOW))

    assert result["answered"] == 10
    assert result["within"] == {10: 4, 15: 7, 20: 9}
    assert result["share"] == {10: 0.4, 15: 0.7, 20: 0.9}


def test_answer_delay_runs_from_asterisks_answer_with_the_ivr_counted_and_the_queue_time_beside_it(session):
    started = START + timedelta(minutes=1)
    call(session, started=started, queue_wait=started + timedelta(seconds=35), answer_after=43)
    assert stats.answer_delays(session, START, NOW) == [43.0]
    assert stats.queue_waits(session, START, NOW) == [8.0]


def test_abandoned_calls_count_from_asterisks_answer_too(session):
    started = START + timedelta(minutes=1)
    call(session, started=started, state="abandoned", ended_at=started + timedelta(seconds=17))
    assert stats.abandon_delays(session, START, NOW) == [17.0]
    shares = stats.answer_shares([], abandoned=[17.0])
    assert shares["abandoned_p50_s"] == 17.0 and shares["p95_s"] is None


def test_a_call_that_never_passed_the_ivr_is_timed_from_its_start(session):
    started = START + timedelta(minutes=1)
    session.add(Call(uniqueid="failopen", started_at=started, queued_at=None,
                     answered_at=started + timedelta(seconds=12), state="answered"))
    session.flush()
    assert stats.answer_delays(session, START, NOW) == [12.0]


def test_calls_outside_the_period_are_left_out(session):
    call(session, started=START - timedelta(seconds=1), answer_after=1)
    call(session, started=NOW, answer_after=1)  # the end is exclusive
    call(session, started=START, answer_after=30)  # the start is inclusive
    assert stats.answer_delays(session, START, NOW) == [30.0]


def test_no_answered_calls_gives_no_share_rather_than_zero(session):
    assert stats.answer_shares([]) == {"answered": 0, "within": {10: 0, 15: 0, 20: 0},
                                       "share": {10: None, 15: None, 20: None}, "p50_s": None, "p95_s": None,
                                       "queue_p50_s": None, "queue_p95_s": None, "abandoned_p50_s": None}


def test_abandoned_silent_and_prank_shares_are_over_every_call_of_the_period(session):
    for i in range(10):
        call(session, answer_after=None if i < 2 else 4,
             state="abandoned" if i < 2 else "completed", silent=i == 2, prank_suspect=i in (3, 4, 5))
    call(session, started=START - timedelta(hours=1), state="abandoned")

    result = stats.call_shares(session, START, NOW)

    assert (result["total"], result["abandoned"], result["silent"], result["prank"]) == (10, 2, 1, 3)
    assert (result["abandoned_share"], result["silent_share"], result["prank_share"]) == (0.2, 0.1, 0.3)


def test_queue_now_counts_waiting_calls_and_the_longest_wait(session):
    call(session, started=NOW - timedelta(seconds=60), queue_wait=NOW - timedelta(seconds=30))
    call(session, started=NOW - timedelta(seconds=120), queue_wait=NOW - timedelta(seconds=95))
    call(session, answer_after=3)
    assert stats.queue_now(session, NOW) == {"waiting": 2, "longest_wait_s": 95.0,
                                             "oldest_queued_at": NOW - timedelta(seconds=95)}


def test_queue_now_with_nobody_waiting(session):
    assert stats.queue_now(session, NOW) == {"waiting": 0, "longest_wait_s": None, "oldest_queued_at": None}


def incident(session, *, created=None, dispatched=None, **values) -> Incident:
    row = Incident(category=values.pop("category", "fire"), created_at=created or START + timedelta(minutes=10),
                   first_dispatch_at=dispatched, **values)
    session.add(row)
    session.flush()
    return row


def test_answer_to_dispatch_counts_each_incident_once_from_its_first_answer(session):
    t0 = START + timedelta(minutes=10)
    fire = incident(session, created=t0, dispatched=t0 + timedelta(seconds=90))
    theft = incident(session, created=t0, dispatched=t0 + timedelta(seconds=30))
    alarm_first = incident(session, created=t0, dispatched=t0 - timedelta(seconds=5))
    waiting = incident(session, created=t0, dispatched=None)
    old = incident(session, created=START - timedelta(minutes=1), dispatched=t0)
    for target, answered in [(fire, t0), (fire, t0 + timedelta(seconds=30)), (theft, t0), (alarm_first, t0),
                             (waiting, t0), (old, t0)]:
        row = call(session, answer_after=1, incident_id=target.id)
        row.answered_at = answered
    session.flush()

    result = stats.answer_to_dispatch(session, START, NOW)

    assert result == {"count": 2, "median_s": 60.0, "p90_s": 90.0}


@pytest.mark.parametrize("values, fraction, expected", [
    ([], 0.9, None),
    ([7.0], 0.9, 7.0),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9, 10),
])
def test_nearest_rank_percentile(values, fraction, expected):
    assert stats.nearest_rank(values, fraction) == expected


def test_incidents_by_category_and_kecamatan_largest_first_unknown_last(session):
    for category, kecamatan in [("fire", "Klojen"), ("fire", "Lowokwaru"), ("medical", "Klojen"),
                                ("fire", None), ("crime", "Klojen")]:
        incident(session, category=category, kecamatan=kecamatan)
    incident(session, category="flood", kecamatan="Sukun", created=START - timedelta(days=1))

    assert stats.incidents_by(session, START, NOW, "category") == [("fire", 3), ("crime", 1), ("medical", 1)]
    assert stats.incidents_by(session, START, NOW, "kecamatan") == [("Klojen", 3), ("Lowokwaru", 1), (None, 1)]


def test_alarms_open_by_source(session):
    for source, state in [("sos", "open"), ("sos", "open"), ("panel", "open"), ("button", "closed"), ("sms", "acknowledged")]:
        session.add(Alarm(source=source, kind="panic", state=state))
    session.flush()
    assert stats.alarms_open(session) == {"total": 3, "by_source": {"panel": 1, "sos": 2}}


def test_call_takers_show_their_state_and_live_call(session):
    ani = User(username="ani", role="calltaker", password_hash="x", status="on_call")
    budi = User(username="budi", role="dispatcher", password_hash="x", status="available")
    gone = User(username="gone", role="calltaker", password_hash="x", active=False)
    boss = User(username="sri", role="supervisor", password_hash="x")
    session.add_all([ani, budi, gone, boss])
    session.flush()
    live = call(session, answer_after=2, agent_id=ani.id)

    takers = stats.call_takers(session)

    assert [(t["username"], t["status"], t["call_id"]) for t in takers] == [("budi", "available", None),
                                                                            ("ani", "on_call", live.id)]
    assert stats.status_counts(takers) == {"available": 1, "on_call": 1}


@pytest.mark.parametrize("now, start", [
    (datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc), datetime(2026, 11, 22, 17, 0, tzinfo=timezone.utc)),
    (datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc), datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)),
])
def test_today_starts_at_local_midnight_in_jakarta(now, start):
    assert stats.period("today", now, "Asia/Jakarta") == stats.Period("today", start, now)


def test_other_periods_reach_back_from_now():
    assert stats.period("24h", NOW).start == NOW - timedelta(hours=24)
    assert stats.period("7d", NOW).start == NOW - timedelta(days=7)
    with pytest.raises(ValueError):
        stats.period("year", NOW)
