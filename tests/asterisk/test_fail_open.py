"""Siaga112 down or stalled: Asterisk still queues and connects the caller (life-safety rule 1)."""

from __future__ import annotations

import os
import time

import pytest

from ivr.audio import is_silent, wav_rms
from tests.asterisk.checks import calls, eventually

# What Asterisk logs, rightly, when the FastAGI server is not there: res_agi's two warnings and
# the dialplan's own line about queueing without the intake.
FASTAGI_DOWN = [r"res_agi\.c: Connecting to '127\.0\.0\.1:\d+' failed for url 'agi://127\.0\.0\.1:\d+/[a-z-]+': "
                r"Connection refused",
                r"res_agi\.c: Couldn't connect to any host\.  FastAGI failed\.",
                r"Siaga112 intake did not finish on PJSIP/operator-trunk-\w+ \(AGISTATUS FAILURE\)"]


@pytest.mark.pbx(agi="down")
def test_with_the_fastagi_server_down_the_caller_is_queued_recorded_and_connected(asterisk, sipp, phones, ami, database):
    phones(1, answer_ms=500, talk_ms=2000)
    started = time.monotonic()

    caller = sipp.trunk_call(caller="+6286666666666", hangup_ms=None)

    joined = ami.wait_event("QueueCallerJoin", Queue="112", timeout=15)
    assert time.monotonic() - started < 5, "the caller waited on a FastAGI server that is not there"
    assert joined.get("CallerIDNum") == "+6286666666666"
    ami.wait_event("AgentConnect", Queue="112", Uniqueid=joined.get("Uniqueid"), timeout=15)
    assert caller.wait(30) == 0, caller.report()
    # The FastAGI step never ran, and the call was still recorded, by the dialplan, and is still on
    # record: the AMI listener opened it from Asterisk's events.
    recording = os.path.join(asterisk.globals["SIAGA112_RECORDINGS_DIR"], f"112-{joined.get('Uniqueid')}.wav")
    eventually(lambda: os.path.exists(recording), what=f"{recording} written")
    assert is_silent(wav_rms(recording)) is False
    [call] = eventually(lambda: [c for c in calls(database) if c.state == "completed"], what="the call completed on record")
    # (Its ivr_step reads "ami": the AMI listener opened it, from Newstate, then rated and queued it.)
    assert call.caller == "+6286666666666" and call.uniqueid == joined.get("Uniqueid")
    assert asterisk.problems(asterisk.boot_log_end, ignore=FASTAGI_DOWN) == []


@pytest.mark.pbx(agi="stalled", globals_={"SIAGA112_INTAKE_BUDGET": "3"})
def test_with_a_fastagi_server_that_never_answers_the_caller_is_queued_after_the_intake_budget(
        asterisk, stalled_agi, sipp, ami):
    started = time.monotonic()

    caller = sipp.trunk_call(caller="+6287777777777", hangup_ms=12_000)

    joined = ami.wait_event("QueueCallerJoin", Queue="112", timeout=20)
    waited = time.monotonic() - started
    assert 3 <= waited < 8, f"queued after {waited:.1f} s with an intake budget of 3 s"
    assert joined.get("CallerIDNum") == "+6287777777777"
    assert len(stalled_agi.connections) >= 1
    asterisk.wait_for_log(r"WARNING.*Siaga112 intake ran past 3 s on PJSIP/operator-trunk", start=asterisk.boot_log_end)
    assert caller.wait(30) == 0, caller.report()
