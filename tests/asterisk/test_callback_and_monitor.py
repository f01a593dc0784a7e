"""Call-back and live listen from the console, through the real AMI, with both legs over SIP."""

from __future__ import annotations

import glob
import os

from siaga112.models import AuditEntry
from tests.asterisk.checks import calls, eventually
from tests.support.console_client import PASSWORD


def test_a_call_back_rings_the_call_takers_phone_then_the_citizen_through_the_trunk(
        asterisk, center, sipp, phones, ami, console, make_user, database):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    citizen = sipp.network(answer_ms=500, talk_ms=None)
    # Queue first: with a call-taker's phone registered the caller would be connected at once, so
    # the phone registers only after the caller gave up waiting.
    caller = sipp.trunk_call(caller="+6288888888888", hangup_ms=3000)  # hangs up while waiting
    assert caller.wait(30) == 0, caller.report()
    [phone] = phones(1, answer_ms=300, talk_ms=4000)
    call = eventually(lambda: next((c for c in calls(database) if c.ended_at), None), what="the dropped call on record")
    screen = console("ani", PASSWORD)

    reply = screen.http.post(f"{center.web_url}/api/v1/console/calls/{call.id}/callback",
                             headers={"X-CSRFToken": screen.csrf("/")}, timeout=10)

    assert reply.status_code == 202, reply.text
    action_id = reply.json()["action_id"]
    answered = ami.wait_event("OriginateResponse", ActionID=action_id, timeout=30)
    assert answered.get("Response") == "Success" and answered.get("Channel", "").startswith("PJSIP/1001-")
    eventually(lambda: citizen.answered() == 1, what="the citizen's phone answered the call-back")
    assert phone.answered() == 1
    recordings = glob.glob(os.path.join(asterisk.globals["SIAGA112_RECORDINGS_DIR"], f"call-{call.id}-callback-*.wav"))
    assert len(recordings) == 1
    with database.session() as session:
        [audit] = [a for a in session.query(AuditEntry).filter_by(action="call.callback")]
        assert audit.detail["result"] == "queued"


def test_a_supervisor_listens_to_a_live_call_through_chanspy(
        asterisk, center, sipp, phones, ami, console, make_user, database):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    make_user("supervisor", username="sari", phone_interface="PJSIP/2001")
    [phone] = phones(1, answer_ms=300, talk_ms=None)
    supervisor_phone = sipp.phone(asterisk.supervisor, answer_ms=300, talk_ms=None)
    asterisk.wait_until(lambda: asterisk.contact_reachable("2001"), what="the supervisor's phone registered")
    caller = sipp.trunk_call(caller="+6289999999999", hangup_ms=45_000)
    connected = ami.wait_event("AgentConnect", Queue="112", timeout=40)
    call = eventually(lambda: next((c for c in calls(database) if c.state == "answered"), None),
                      what="the call answered on record")
    desk = console("sari", PASSWORD)

    reply = desk.http.post(f"{center.web_url}/supervisor/calls/{call.id}/monitor",
                           data={"mode": "listen", "csrf_token": desk.csrf("/supervisor/")},
                           timeout=10, allow_redirects=False)

    assert reply.status_code in (302, 303), reply.text
    spy = ami.wait_event("ChanSpyStart", timeout=20)
    assert spy.get("SpyeeChannel", "").startswith("PJSIP/1001-")
    assert spy.get("SpyerChannel", "").startswith("PJSIP/2001-")
    assert connected.get("Interface") == "PJSIP/1001"
    assert eventually(lambda: supervisor_phone.answered() == 1, what="the supervisor's phone answered")
    assert caller.running(), "the caller's call ended while the supervisor listened"
