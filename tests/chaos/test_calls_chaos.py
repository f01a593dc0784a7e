"""Calls through a real `serve` while its PostgreSQL is stopped, killed (-9) and hung (SIGSTOP).

Each call goes the whole way Asterisk takes it: the `ivr` AGI, `agent-connected` on the
call-taker's leg, `call-ended` from `h`. Whatever the database does, every caller is released
at once with a queue priority no lower than the dialplan's fail-open, and once the database is
back every call is on record exactly once, answered and completed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ivr.priority import FAIL_OPEN
from siaga112.models import Call
from tests.chaos.calls import CALLS_PER_PHASE, RELEASE_LIMIT_S, place_calls
from tests.support.waiting import wait_until

pytestmark = pytest.mark.chaos


def test_no_call_is_lost_or_doubled_when_postgresql_is_stopped_killed_or_hung(chaos_postgres, chaos_database,
                                                                              serve_process):
    serve = serve_process(chaos_database.url, "agi")
    port = serve.ports["agi"]
    placed: list[dict] = []
    faults = {
        "up": (lambda: None, lambda: None),
        "stopped": (chaos_postgres.stop, chaos_postgres.start),
        "killed": (chaos_postgres.kill, chaos_postgres.start),
        "hung": (chaos_postgres.hang, chaos_postgres.resume),
    }
    for number, (phase, (fault, repair)) in enumerate(faults.items()):
        fault()
        try:
            placed += place_calls(port, number * 100, phase)
        finally:
            repair()

    def on_record() -> list:
        with chaos_database.session() as session:
            rows = session.execute(select(Call.uniqueid, Call.state, Call.answered_at, Call.agent_interface,
                                          Call.service_choice)).all()
        done = [row for row in rows if row.state == "completed"]
        return rows if len(done) == len(placed) else []

    rows = wait_until(on_record, timeout=40)
    for phase in faults:  # shown with -s: the figures the issue asks for
        released = [call["released_s"] for call in placed if call["phase"] == phase]
        print(f"chaos calls, PostgreSQL {phase}: {len(released)} callers released in at most {max(released):.2f} s")

    assert len(placed) == CALLS_PER_PHASE * len(faults)
    assert all(call["agi_status"] == "SUCCESS" and call["answered"] for call in placed)
    # Released within a second of the database's part: the IVR's own time on this (shared, busy)
    # machine is what the calls with the database up took; a fault may add ivr_db_timeout_seconds.
    baseline = max(call["released_s"] for call in placed if call["phase"] == "up")
    limit = max(RELEASE_LIMIT_S, baseline + 1.0)
    assert max(call["released_s"] for call in placed) < limit, placed
    assert max(call["bridged_s"] for call in placed) < limit, placed
    for call in placed:
        # Up: rated by the database (or, if it was slower than the timeout, the fail-open).
        assert call["priority"] >= (5 if call["phase"] == "up" else FAIL_OPEN), call
    # 0 lost, 0 doubled: one row per call Asterisk placed, answered by the call-taker who took it.
    assert sorted(row.uniqueid for row in rows) == sorted(call["uniqueid"] for call in placed)
    assert all(row.answered_at is not None and row.agent_interface == "PJSIP/1001" for row in rows)
    assert all(row.service_choice == "police" for row in rows)
    with chaos_database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == len(placed)
