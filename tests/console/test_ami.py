"""The AMI client against a peer that answers as a recorded Asterisk session does: call-back,
listen/whisper/barge through ChanSpy, and the failures a supervisor must see as sentences."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from agent_console import ami
from siaga112.models import AuditEntry, Call, User
from tests.support.ami_peer import AmiPeer


@pytest.fixture
def peer():
    with AmiPeer() as peer:
        yield peer


def point_at(runtime, peer: AmiPeer, *, secret: str | None = None, timeout: float = 2.0) -> None:
    """Aim the runtime's AMI settings at the peer; the client is then built from them as in production."""
    runtime.settings.ami_host = "127.0.0.1"
    runtime.settings.ami_port = peer.port
    runtime.settings.ami_username = peer.username
    runtime.settings.ami_secret = peer.secret if secret is None else secret
    runtime.settings.extra["ami_timeout_seconds"] = timeout


def make_call(session, **values) -> Call:
    # Asterisk's uniqueid is unique per call (and in the calls table): one per call made here.
    uniqueid = f"1795346546.{session.scalar(select(func.count()).select_from(Call)) + 1}"
    call = Call(**{"uniqueid": uniqueid, "caller": "+6281234567890", "state": "abandoned", **values})
    session.add(call)
    session.flush()
    return call


def make_people(database):
    with database.session() as session:
        taker = User(username="ani", role="calltaker", password_hash="x", phone_interface="PJSIP/1001")
        boss = User(username="sri", role="supervisor", password_hash="x", phone_interface="PJSIP/2001")
        session.add_all([taker, boss])
        session.flush()
        call = make_call(session, state="answered", agent_id=taker.id, agent_interface="PJSIP/1001")
        abandoned = make_call(session, state="abandoned")
        return taker, boss, call, abandoned


def audit_entries(database) -> list[AuditEntry]:
    with database.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize("lines, expected", [
    (["Response: Success", "ActionID: 3", "Message: Originate successfully queued"],
     (("Response", "Success"), ("ActionID", "3"), ("Message", "Originate successfully queued"))),
    (["Response: Error", "ActionID: 5",
      "Message: Invalid/unknown command: Bogus. Use Action: ListCommands to show available commands."],
     (("Response", "Error"), ("ActionID", "5"),
      ("Message", "Invalid/unknown command: Bogus. Use Action: ListCommands to show available commands."))),
    (["Event: Newchannel", "AccountCode: ", "Channel: Local/112@emergency-00000000;1"],
     (("Event", "Newchannel"), ("AccountCode", ""), ("Channel", "Local/112@emergency-00000000;1"))),
    (["Variable: A=1", "Variable: B=2"], (("Variable", "A=1"), ("Variable", "B=2"))),
])
def test_parse_message_splits_on_the_first_colon_and_keeps_repeats(lines, expected):
    assert ami.parse_message(lines).headers == expected


def test_format_action_ends_every_line_in_crlf_and_the_message_in_a_blank_line():
    raw = ami.format_action([("Action", "Logoff"), ("ActionID", "6")])
    assert raw == b"Action: Logoff\r\nActionID: 6\r\n\r\n"


def test_format_action_refuses_a_value_that_would_inject_a_header():
    with pytest.raises(ValueError):
        ami.format_action([("Exten", "+62812\r\nAction: Originate")])


@pytest.mark.parametrize("interface, prefix", [
    ("PJSIP/1001", "PJSIP/1001-"),
    ("SIP/agent7", "SIP/agent7-"),
    ("Local/agent1@agents/n", "Local/agent1@agents-"),
    ("Local/agent1@agents", "Local/agent1@agents-"),
])
def test_spy_prefix_matches_only_that_interfaces_channels(interface, prefix):
    assert ami.spy_prefix(interface) == prefix


def test_peer_speaks_as_the_recorded_session_with_events_when_not_switched_off(peer):
    connection = ami._Connection("127.0.0.1", peer.port, 2.0)
    try:
        assert connection.read_banner() == "Asterisk Call Manager/11.0.0"
        login = connection.request([("Action", "Login"), ("ActionID", "1"), ("Username", peer.username),
                                    ("Secret", peer.secret), ("Events", "call,agent,user")])
        assert login.headers == (("Response", "Success"), ("ActionID", "1"), ("Message", "Authentication accepted"))
        reply = connection.request([("Action", "Originate"), ("ActionID", "3"), ("Channel", "Local/112@emergency"),
                                    ("Context", "caller"), ("Exten", "s"), ("Priority", "1"),
                                    ("CallerID", "Budi Santoso <+6281234567890>"), ("Async", "true")])
        assert reply.get("Message") == "Originate successfully queued"
        events = [connection.read_message(), connection.read_message()]
        assert [e.get("Event") for e in events] == ["Newchannel", "OriginateResponse"]
        assert events[1].get("ActionID") == "3" and events[1].get("Reason") == "4"
        assert events[1].get("CallerIDNum") == "+6281234567890"
        bogus = connection.request([("Action", "Bogus"), ("ActionID", "5")])
        assert bogus.get("Response") == "Error"
        assert bogus.get("Message").startswith("Invalid/unknown command: Bogus.")
        goodbye = connection.request([("Action", "Logoff"), ("ActionID", "6")])
        assert goodbye.headers == (("Response", "Goodbye"), ("ActionID", "6"), ("Message", "Thanks for all the fish."))
        assert connection.read_message() is None
    finally:
        connection.close()


def test_call_back_rings_the_call_takers_phone_then_the_caller_and_is_audited(runtime, database, peer):
    point_at(runtime, peer)
    taker, _boss, _call, abandoned = make_people(database)

    action_id = ami.call_back(runtime, taker, abandoned)

    assert [a.name for a in peer.actions] == ["Login", "Originate", "Logoff"]
    login, originate, _logoff = peer.actions
    assert login.as_dict() == {"Action": "Login", "Username": peer.username, "Secret": peer.secret, "Events": "off"}
    assert originate.get("ActionID") == action_id
    assert originate.as_dict() == {
        "Action": "Originate", "Channel": "PJSIP/1001", "Context": "siaga112-callback",
        "Exten": "+6281234567890", "Priority": "1", "CallerID": "Siaga112 <112>", "Timeout": "30000",
        "Async": "true", "Variable": "SIAGA_CALLBACK_BY=ani",
    }
    assert originate.get_all("Variable") == [f"SIAGA_CALL_ID={abandoned.id}", "SIAGA_CALLBACK_BY=ani"]
    [entry] = audit_entries(database)
    assert (entry.actor, entry.action, entry.target) == ("ani", "call.callback", f"call:{abandoned.id}")
    assert entry.detail["result"] == "queued" and entry.detail["action_id"] == action_id


@pytest.mark.parametrize("mode, options", [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")])
def test_monitor_originates_the_supervisors_phone_into_chanspy_and_is_audited(runtime, database, peer, mode, options):
    point_at(runtime, peer)
    _taker, boss, call, _abandoned = make_people(database)
    with database.session() as session:
        live = session.get(Call, call.id)
        ami.monitor(runtime, boss, live, mode)

    [originate] = peer.actions_named("Originate")
    assert originate.as_dict() == {
        "Action": "Originate", "Channel": "PJSIP/2001", "Application": "ChanSpy",
        "Data": f"PJSIP/1001-,{options}", "CallerID": f"Monitor <{call.id}>", "Timeout": "30000",
        "Async": "true", "Variable": f"SIAGA_CALL_ID={call.id}",
    }
    [entry] = audit_entries(database)
    assert (entry.actor, entry.action, entry.target) == ("sri", f"monitor.{mode}", f"call:{call.id}")
    assert entry.detail["chanspy"] == f"PJSIP/1001-,{options}"


def test_wrong_secret_is_a_clear_login_failure_and_nothing_is_originated(runtime, database, peer):
    point_at(runtime, peer, secret="wrong")
    taker, _boss, _call, abandoned = make_people(database)

    with pytest.raises(ami.AmiLoginFailed, match="could not sign in"):
        ami.call_back(runtime, taker, abandoned)

    assert [a.name for a in peer.actions] == ["Login"]
    [entry] = audit_entries(database)
    assert entry.detail["result"] == "failed" and entry.detail["reason"] == "AmiLoginFailed"


def test_unreachable_manager_is_a_clear_error(runtime, database):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    runtime.settings.ami_port, runtime.settings.ami_username = port, "siaga112"
    taker, _boss, _call, abandoned = make_people(database)

    with pytest.raises(ami.AmiUnreachable, match="cannot be reached"):
        ami.call_back(runtime, taker, abandoned)


def test_a_manager_that_never_speaks_times_out_instead_of_hanging(runtime, database):
    with AmiPeer(silent=True) as peer:
        point_at(runtime, peer, timeout=0.3)
        taker, _boss, _call, abandoned = make_people(database)
        with pytest.raises(ami.AmiUnreachable, match="did not answer in time"):
            ami.call_back(runtime, taker, abandoned)


def test_empty_manager_account_says_call_back_is_not_set_up(runtime, database):
    taker, _boss, _call, abandoned = make_people(database)
    with pytest.raises(ami.AmiNotConfigured, match="not set up"):
        ami.call_back(runtime, taker, abandoned)


def test_call_back_refuses_a_withheld_number_without_asking_asterisk(runtime, database, peer):
    point_at(runtime, peer)
    taker, _boss, _call, abandoned = make_people(database)
    abandoned.caller = None
    with pytest.raises(ami.AmiError, match="withheld"):
        ami.call_back(runtime, taker, abandoned)
    assert peer.actions == []


def test_monitor_refuses_a_call_that_is_not_connected(runtime, database, peer):
    point_at(runtime, peer)
    _taker, boss, _call, abandoned = make_people(database)
    with pytest.raises(ami.AmiError, match="not connected"):
        ami.monitor(runtime, boss, abandoned, "listen")
    assert peer.actions == []


def test_console_call_back_button_reaches_the_peer_and_is_audited_once(client, runtime, database, peer):
    from tests.support.console_client import csrf_token, sign_in

    point_at(runtime, peer)
    _taker, _boss, _call, abandoned = make_people(database)
    sign_in(client, database, "calltaker", username="dewi", phone_interface="PJSIP/1003")

    response = client.post(f"/api/v1/console/calls/{abandoned.id}/callback",
                           headers={"X-CSRFToken": csrf_token(client, "/")})

    assert response.status_code == 202
    [originate] = peer.actions_named("Originate")
    assert (originate.get("Channel"), originate.get("Context"), originate.get("Exten")) == \
        ("PJSIP/1003", "siaga112-callback", "+6281234567890")
    assert response.get_json()["action_id"] == originate.get("ActionID")
    assert [(e.actor, e.action) for e in audit_entries(database)] == [("dewi", "call.callback")]


def test_console_call_back_with_a_refused_login_answers_a_sentence_not_a_500(client, runtime, database, peer):
    from tests.support.console_client import csrf_token, sign_in

    point_at(runtime, peer, secret="wrong")
    _taker, _boss, _call, abandoned = make_people(database)
    sign_in(client, database, "calltaker", phone_interface="PJSIP/1003")

    response = client.post(f"/api/v1/console/calls/{abandoned.id}/callback",
                           headers={"X-CSRFToken": csrf_token(client, "/")})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "ami_login_failed"
    assert "tidak dapat masuk ke sistem telepon" in response.get_json()["error"]["message"]  # the console's language


@pytest.mark.parametrize("caller", ["112", "0812345678", "+62812\r\nAction: Hangup", "+62 812 3456 789"])
def test_call_back_refuses_a_number_the_callback_context_cannot_dial(runtime, database, peer, caller):
    point_at(runtime, peer)
    taker, _boss, _call, abandoned = make_people(database)
    abandoned.caller = caller
    with pytest.raises(ami.AmiError) as refused:
        ami.call_back(runtime, taker, abandoned)
    assert refused.value.code == "number_invalid"
    assert peer.actions == []


def test_monitor_refuses_an_agent_interface_that_would_add_chanspy_options(runtime, database, peer):
    point_at(runtime, peer)
    _taker, boss, call, _abandoned = make_people(database)
    call.agent_interface = "PJSIP/1001,qB"
    with pytest.raises(ami.AmiError) as refused:
        ami.monitor(runtime, boss, call, "listen")
    assert refused.value.code == "not_connected"
    assert peer.actions == []


def _set_my_status(client, database, status: str):
    from tests.support.console_client import csrf_token

    return client.post("/api/v1/console/me/status", json={"status": status},
                       headers={"X-CSRFToken": csrf_token(client, "/")})


def test_a_break_pauses_the_call_takers_phone_in_queue_112_and_ready_unpauses_it(client, database, runtime, peer):
    from tests.support.console_client import sign_in

    point_at(runtime, peer)
    sign_in(client, database, "calltaker", phone_interface="PJSIP/1001")

    on_break = _set_my_status(client, database, "break")
    assert on_break.status_code == 200 and on_break.get_json()["queue_paused"] is True
    back = _set_my_status(client, database, "available")
    assert back.status_code == 200 and back.get_json()["queue_paused"] is True

    pauses = peer.wait_for_action("QueuePause", count=2)
    assert [(a.get("Interface"), a.get("Queue"), a.get("Paused")) for a in pauses] == [
        ("PJSIP/1001", "112", "true"), ("PJSIP/1001", "112", "false")]


def test_a_break_is_kept_when_the_telephone_system_is_not_set_up(client, database, runtime):
    from tests.support.console_client import sign_in

    runtime.settings.ami_username = ""
    sign_in(client, database, "calltaker", phone_interface="PJSIP/1001")

    response = _set_my_status(client, database, "break")
    assert response.status_code == 200
    assert response.get_json()["status"] == "break" and response.get_json()["queue_paused"] is None
