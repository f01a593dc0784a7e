"""A burst of callers: every one of them reaches a call-taker."""

from __future__ import annotations

import time

import pytest

from tests.asterisk.checks import calls, eventually

CALLERS = 100
CALL_TAKERS = 10
# Queue first: every caller is in the queue a second after the answer; 10 call-takers each
# answering in 0.5 s and talking 1 s (rrmemory with autofill: ten callers ring at once) clear
# 100 callers in about 20 s. (With ringall, as before issue 13, 47 of 100 were connected in 154 s.)
ALL_CONNECTED_WITHIN_S = 90


class NotAllConnectedInTime(AssertionError):
    """Callers still waiting when they should all have been connected."""


@pytest.mark.pbx(call_takers=CALL_TAKERS)
def test_a_hundred_callers_at_once_are_all_connected_to_ten_call_takers(asterisk, sipp, phones, ami, database):
    phones(answer_ms=500, talk_ms=1000)
    started = time.monotonic()

    callers = sipp.trunk_call(calls=CALLERS, rate=CALLERS, hangup_ms=None, audio=True, timeout_s=240)

    ami.wait_count("QueueCallerJoin", CALLERS, timeout=60)
    try:
        connected = ami.wait_count("AgentConnect", CALLERS,
                                   timeout=max(1.0, ALL_CONNECTED_WITHIN_S - (time.monotonic() - started)))
    except AssertionError as error:
        raise NotAllConnectedInTime(f"{error} after the first call came in") from None
    assert len({event.get("Uniqueid") for event in connected}) == CALLERS
    assert callers.wait(60) == 0, callers.report()
    done = eventually(lambda: (found := [c for c in calls(database) if c.state == "completed"]) and len(found) == CALLERS
                      and found, timeout=30, what=f"{CALLERS} calls completed on record")
    assert len({c.agent_interface for c in done}) == CALL_TAKERS
