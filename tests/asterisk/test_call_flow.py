"""A 112 call over SIP through the shipped dialplan, the intake, queue 112 and a call-taker's phone."""

from __future__ import annotations

from ivr.audio import is_silent, wav_rms
from tests.asterisk.checks import call_of, calls, eventually, recordings_of
from tests.support.console_client import PASSWORD

CALLER = "+6281234567890"


def test_asterisk_starts_on_the_shipped_files_without_a_warning(asterisk):
    assert asterisk.boot_problems() == []
    dialplan = asterisk.cli("dialplan show 112@emergency")
    assert "agi://127.0.0.1:${SIAGA112_AGI_PORT}/intake" in dialplan.replace("${SIAGA112_HOST}", "127.0.0.1")
    queue = asterisk.cli("queue show 112")
    assert all(f"PJSIP/{name}" in queue for name in ("1001", "1002", "1003"))
    assert "siaga112-emergency" in asterisk.cli("geoloc show profiles")


def test_a_call_with_speech_is_queued_recorded_answered_with_a_screen_pop_and_completed(
        asterisk, center, sipp, phones, ami, console, make_user, database):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    screen = console("ani", PASSWORD)
    screen.listen()
    phones(1, answer_ms=1000, talk_ms=3000)
    mark = asterisk.log_size()

    # The caller talks until the call-taker hangs up.
    caller = sipp.trunk_call(caller=CALLER, hangup_ms=None)

    joined = ami.wait_event("QueueCallerJoin", Queue="112", timeout=60)
    assert joined.get("CallerIDNum") == CALLER
    pop = screen.wait_event("call.answered", timeout=30)
    assert pop["audience"] == "ani" and pop["payload"]["agent"] == "ani"
    assert caller.wait(60) == 0, caller.report()
    call = eventually(lambda: (c := call_of(database, pop["payload"]["id"])).state == "completed" and c,
                      what="the call completed")
    assert call.caller == CALLER and call.agent_interface == "PJSIP/1001"
    assert call.pbx_answered_at == call.started_at <= call.queued_at <= call.answered_at <= call.ended_at
    assert [c.id for c in calls(database)] == [call.id]

    files = eventually(lambda: (r := recordings_of(database, call.id)) and len(r) >= 2 and r,
                       what="the call's recordings registered")
    by_kind = {r.kind: r for r in files}
    assert set(by_kind) >= {"statement", "full"}
    for kind in ("statement", "full"):
        assert is_silent(wav_rms(by_kind[kind].path)) is False, f"the {kind} recording is silent"
    assert asterisk.problems(mark) == []
