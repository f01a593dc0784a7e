"""The call path from Asterisk's AMI events: answer, screen-pop, keys, end, and the gaps between.

The manager is tests/support/ami_peer.py, which answers as the captured Asterisk 22 session
does; each event carries the headers Asterisk 22.10.1 writes for it (transcripts/
ami_originate_queue.txt) and a `Timestamp` (manager.conf `timestampevents = yes`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from ivr import channel_vars as var
from ivr.ami_listener import AmiListenerService, member_interface
from ivr.asterisk_peer import Caller, Channel
from ivr.hooks import IvrHooks
from ivr.queue_order import follow_priority
from siaga112.models import Call, Event, Recording
from tests.ivr.conftest import call_row, events_of
from tests.support.ami_peer import AmiPeer
from tests.support.waiting import wait_until

CALLER = "+6281234567890"
CHANNEL = "PJSIP/operator-trunk-00000012"
UNIQUEID = "1795346546.18"
BASE = "/var/spool/asterisk/siaga112/112-1795346546.18"
T0 = 1795346546.125  # Asterisk answered


@dataclass
class HookLog:
    """Listeners that note what the AMI listener told them, and when each came."""

    said: list = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _note(self, *entry):
        with self.changed:
            self.said.append(entry)
            self.changed.notify_all()

    def statement_started(self, call_id, path):
        self._note("started", call_id, path)

    def statement_ended(self, call_id, path):
        self._note("ended", call_id, path)

    def caller_connected(self, call_id):
        self._note("connected", call_id)

    def __call__(self, call_id):
        self._note("call_ended", call_id)

    def wait_for(self, entry, timeout=5.0):
        with self.changed:
            assert self.changed.wait_for(lambda: entry in self.said, timeout), f"{entry} not in {self.said}"


@pytest.fixture
def hooks():
    return HookLog()


@pytest.fixture
def ami_peer():
    with AmiPeer() as peer:
        yield peer


@pytest.fixture
def listener(runtime, ami_peer, hooks):
    runtime.settings.ami_port, runtime.settings.ami_username = ami_peer.port, ami_peer.username
    runtime.settings.ami_secret = ami_peer.secret
    service = AmiListenerService(runtime, hooks=IvrHooks(statement_listener=hooks, call_ended_listener=hooks))
    service.start()
    ami_peer.wait_for_listeners()
    assert service.state.connected.wait(5)
    yield service
    service.stop()


def channel_headers(uniqueid=UNIQUEID, channel=CHANNEL, context="emergency", **more):
    """The channel block every call event carries (Asterisk 22 order)."""
    headers = [("Privilege", "call,all"), ("Channel", channel), ("ChannelState", "6"), ("ChannelStateDesc", "Up"),
               ("CallerIDNum", CALLER), ("CallerIDName", "Budi Santoso"), ("ConnectedLineNum", "<unknown>"),
               ("ConnectedLineName", "<unknown>"), ("Language", "en"), ("AccountCode", ""), ("Context", context),
               ("Exten", "112"), ("Priority", "12"), ("Uniqueid", uniqueid), ("Linkedid", uniqueid)]
    return headers + list(more.items())


def siaga_call(call_id="", priority="5", uniqueid=UNIQUEID, channel=CHANNEL):
    # The dialplan's UserEvent(SiagaCall,...): `Priority` in the channel block is the dialplan's
    # priority line, so QUEUE_PRIO travels as `QueuePrio`.
    return [("Event", "UserEvent"), *channel_headers(uniqueid, channel), ("UserEvent", "SiagaCall"),
            ("CallId", call_id), ("AnsweredAt", f"{T0:.3f}"), ("Recording", BASE.replace("1795346546.18", uniqueid)),
            ("Agi", "intake SUCCESS"), ("QueuePrio", priority)]


def join(uniqueid=UNIQUEID, channel=CHANNEL, position="1"):
    return [("Event", "QueueCallerJoin"), *channel_headers(uniqueid, channel), ("Queue", "112"),
            ("Position", position), ("Count", position)]


def agent_connect(interface="PJSIP/1001", uniqueid=UNIQUEID):
    return [("Event", "AgentConnect"), *channel_headers(uniqueid), ("DestChannel", f"{interface}-0000002a"),
            ("DestUniqueid", "1795346558.30"), ("Queue", "112"), ("Interface", interface),
            ("MemberName", "Call-taker 1001"), ("HoldTime", "3"), ("RingTime", "1")]


def hangup(uniqueid=UNIQUEID, channel=CHANNEL):
    return [("Event", "Hangup"), *channel_headers(uniqueid, channel), ("Cause", "16"), ("Cause-txt", "Normal Clearing")]


def keys(pressed, priority, uniqueid=UNIQUEID):
    return [("Event", "UserEvent"), *channel_headers(uniqueid, context="siaga112-waiting"), ("UserEvent", "SiagaKeys"),
            ("Keys", pressed), ("CallId", ""), ("QueuePrio", priority)]




def the_call(database) -> Call | None:
    with database.session() as session:
        return session.scalar(select(Call).where(Call.uniqueid == UNIQUEID))


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc)


def test_a_call_from_intake_to_hang_up_is_recorded_from_events_with_their_own_times(
        listener, ami_peer, database, make_user, place_call, hooks):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    record = place_call(Channel(script="intake", name=CHANNEL, uniqueid=UNIQUEID, caller_id=CALLER, answered=True,
                                variables={var.SIAGA_ANSWERED_AT: f"{T0:.3f}", var.SIAGA_RECORDING: BASE}), Caller())
    call_id = int(record.value(var.SIAGA_CALL_ID))

    ami_peer.emit(siaga_call(str(call_id)), at=T0 + 0.05)
    ami_peer.emit(join(), at=T0 + 0.06)
    hooks.wait_for(("started", call_id, BASE + "-caller.wav"))
    ami_peer.emit(agent_connect(), at=T0 + 4.5)
    wait_until(lambda: the_call(database).state == "answered")
    hooks.wait_for(("connected", call_id))  # the caller's live text steps back behind waiting callers'
    ami_peer.emit(hangup(), at=T0 + 64.5)
    hooks.wait_for(("call_ended", call_id))

    call = call_row(database, call_id)
    assert (call.state, call.agent_interface) == ("completed", "PJSIP/1001")
    assert call.pbx_answered_at == at(0) and call.answered_at == at(4.5) and call.ended_at == at(64.5)
    [pop] = events_of(database, "call.answered")
    assert (pop.audience, pop.payload["id"]) == ("ani", call_id)
    assert hooks.said.index(("ended", call_id, BASE + "-caller.wav")) < hooks.said.index(("call_ended", call_id))
    assert ami_peer.actions_named("QueueChangePriorityCaller") == []  # Asterisk already had priority 5


def test_a_call_the_intake_never_stored_is_opened_from_the_dialplans_event_and_moved_to_its_rating(
        listener, ami_peer, database):
    ami_peer.emit(siaga_call(priority="7"))  # SIAGA112_FAILOPEN_PRIO: the intake did not finish
    ami_peer.emit(join())

    [moved] = ami_peer.wait_for_action("QueueChangePriorityCaller")
    call = the_call(database)
    assert (call.state, call.caller, call.pbx_answered_at) == ("queued", CALLER, at(0))
    assert moved.as_dict() == {"Action": "QueueChangePriorityCaller", "Queue": "112", "Caller": CHANNEL,
                               "Priority": str(call.priority), "Immediate": "yes"}
    with database.session() as session:
        kinds = {r.kind: r.path for r in session.scalars(select(Recording).where(Recording.call_id == call.id))}
    assert kinds == {"full": BASE + ".wav", "statement": BASE + "-caller.wav"}


def test_55_while_waiting_marks_a_silent_emergency_and_the_queue_order_follows(listener, ami_peer, database):
    ami_peer.emit(siaga_call(priority="5"))
    ami_peer.emit(join())
    wait_until(lambda: the_call(database) is not None and the_call(database).queued_at is not None)
    # The dialplan raised QUEUE_PRIO by SIAGA112_SILENT_BOOST and queues the caller again, first.
    ami_peer.emit(keys("55", "9"))
    ami_peer.emit(join())

    call = wait_until(lambda: (c := the_call(database)).silent_emergency and c)
    assert (call.priority, call.silent, call.state) == (9, True, "queued")
    assert ami_peer.actions_named("QueueChangePriorityCaller") == []  # Asterisk and the record agree
    with database.session() as session:
        reasons = [e.payload.get("priority_reason") for e in session.scalars(select(Event).where(Event.kind == "call.updated"))]
    assert "silent_emergency" in reasons


def test_a_service_key_while_waiting_sets_the_service_choice(listener, ami_peer, database):
    ami_peer.emit(siaga_call(priority="5"))
    ami_peer.emit(join())
    ami_peer.emit(keys("fire", "5"))
    ami_peer.emit(join(position="1"))

    call = wait_until(lambda: (c := the_call(database)) is not None and c.service_choice and c)
    assert (call.service_choice, call.priority) == ("fire", 6)
    [moved] = ami_peer.wait_for_action("QueueChangePriorityCaller")
    assert moved.get("Priority") == "6"


def test_told_twice_the_listener_records_one_call_one_answer_one_end(listener, ami_peer, database, make_user, hooks):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1001")
    for _ in range(2):
        ami_peer.emit(siaga_call())
        ami_peer.emit(join())
        ami_peer.emit(agent_connect())
    for _ in range(2):
        ami_peer.emit(hangup())
    call = wait_until(lambda: (c := the_call(database)) is not None and c.state == "completed" and c)
    hooks.wait_for(("call_ended", call.id))
    time.sleep(0.2)  # let any second handling land before counting (the events are already sent)
    with database.session() as session:
        assert len(list(session.scalars(select(Call)))) == 1
    assert len(events_of(database, "call.answered")) == 1
    assert len(events_of(database, "call.ended")) == 1


def test_after_a_gap_the_listener_completes_records_from_what_asterisk_has_now(
        runtime, ami_peer, database, make_user, hooks, place_call):
    make_user("calltaker", username="ani", phone_interface="PJSIP/1002")
    # Before the gap: two calls on record, waiting. During it: one was answered on PJSIP/1002,
    # the other hung up; a third caller came in and waits.
    gone = int(place_call(Channel(script="intake", uniqueid="1795346546.40", caller_id="+6281111111111",
                                  answered=True), Caller()).value(var.SIAGA_CALL_ID))
    answered = int(place_call(Channel(script="intake", uniqueid=UNIQUEID, name=CHANNEL, caller_id=CALLER,
                                      answered=True), Caller()).value(var.SIAGA_CALL_ID))
    ami_peer.queue_entries = [[("Queue", "112"), ("Position", "1"), ("Channel", "PJSIP/operator-trunk-00000020"),
                               ("Uniqueid", "1795346600.50"), ("CallerIDNum", "+6282222222222"),
                               ("CallerIDName", "Siti"), ("Wait", "12"), ("Priority", "7")]]
    ami_peer.channels = [
        [("Channel", CHANNEL), ("Uniqueid", UNIQUEID), ("Context", "emergency"), ("Application", "Queue"),
         ("BridgeId", "b-1"), ("Duration", "00:01:10")],
        [("Channel", "PJSIP/1002-0000002b"), ("Uniqueid", "1795346560.31"), ("Context", "agents"),
         ("Application", "AppQueue"), ("BridgeId", "b-1"), ("Duration", "00:00:40")],
        [("Channel", "PJSIP/operator-trunk-00000020"), ("Uniqueid", "1795346600.50"), ("Context", "emergency"),
         ("Application", "Queue"), ("BridgeId", ""), ("Duration", "00:00:14")],
    ]
    ami_peer.variables[("PJSIP/operator-trunk-00000020", "SIAGA_RECORDING")] = "/rec/112-1795346600.50"
    ami_peer.variables[("PJSIP/operator-trunk-00000020", "SIAGA_ANSWERED_AT")] = f"{T0 + 40:.3f}"
    runtime.settings.ami_port, runtime.settings.ami_username = ami_peer.port, ami_peer.username
    runtime.settings.ami_secret = ami_peer.secret
    service = AmiListenerService(runtime, hooks=IvrHooks(statement_listener=hooks, call_ended_listener=hooks))
    service.start()
    try:
        assert service.state.connected.wait(5)
        assert (call_row(database, gone).state, call_row(database, answered).state) == ("abandoned", "answered")
        assert call_row(database, answered).agent_interface == "PJSIP/1002"
        with database.session() as session:
            waiting = session.scalar(select(Call).where(Call.uniqueid == "1795346600.50"))
        assert (waiting.state, waiting.caller, waiting.pbx_answered_at) == ("queued", "+6282222222222", at(40))
        hooks.wait_for(("started", waiting.id, "/rec/112-1795346600.50-caller.wav"))
        [moved] = ami_peer.wait_for_action("QueueChangePriorityCaller")
        assert (moved.get("Caller"), moved.get("Priority")) == ("PJSIP/operator-trunk-00000020", str(waiting.priority))
        hooks.wait_for(("call_ended", gone))

        # Asterisk restarts: the listener logs in again by itself.
        ami_peer.drop()
        wait_until(lambda: service.state.connects >= 2 and service.state.connected.is_set())
    finally:
        service.stop()


def test_a_manager_that_stops_answering_is_left_and_tried_again(runtime, database):
    with AmiPeer(silent=True) as peer:
        runtime.settings.ami_port, runtime.settings.ami_username = peer.port, peer.username
        service = AmiListenerService(runtime)
        service.start()
        try:
            wait_until(lambda: peer.connections >= 2, timeout=20)
            assert not service.state.connected.is_set() and "banner" in (service.state.last_error or "")
        finally:
            began = time.monotonic()
            service.stop()
            assert time.monotonic() - began < 3


def test_without_a_manager_account_the_listener_stays_off(runtime, caplog):
    runtime.settings.ami_username = ""
    service = AmiListenerService(runtime)
    service.start()
    service.stop()
    assert "AMI listener off" in caplog.text


def test_a_keyword_boost_moves_a_waiting_caller_in_asterisks_queue_too(runtime, ami_peer, database):
    runtime.settings.ami_port, runtime.settings.ami_username = ami_peer.port, ami_peer.username
    runtime.settings.ami_secret = ami_peer.secret
    with database.session() as session:
        session.add(Call(uniqueid=UNIQUEID, channel=CHANNEL, caller=CALLER, state="queued", priority=9))
        session.add(Call(uniqueid="x", channel="PJSIP/x-1", caller=CALLER, state="answered", priority=9))
    ids = {c.uniqueid: c.id for c in database.session().__enter__().scalars(select(Call))}

    assert follow_priority(runtime, ids[UNIQUEID]) is True
    assert follow_priority(runtime, ids["x"]) is False  # answered: nothing left to move
    [moved] = ami_peer.actions_named("QueueChangePriorityCaller")
    assert (moved.get("Caller"), moved.get("Priority"), moved.get("Immediate")) == (CHANNEL, "9", "yes")


@pytest.mark.parametrize("channel, interface", [
    ("PJSIP/1001-0000002a", "PJSIP/1001"),
    ("Local/agent1@agents-00000001;1", "Local/agent1@agents"),
    ("SIP/trunk", "SIP/trunk"),
])
def test_a_member_channel_names_its_interface(channel, interface):
    assert member_interface(channel) == interface


def test_a_caller_asterisk_no_longer_holds_is_not_moved_and_nothing_breaks(runtime, caplog):
    from siaga112.ami import AmiClient
    from ivr.queue_order import move_caller

    class Refusing(AmiPeer):
        def _answer(self, client, action, state):
            if action.name.lower() == "queuechangeprioritycaller":
                from tests.support.ami_peer import _send
                _send(client, [("Response", "Error"), ("ActionID", action.get("ActionID")),
                               ("Message", "Unable to change priority caller on queue: No such caller")])
                return True
            return super()._answer(client, action, state)

    with Refusing() as peer:
        client = AmiClient("127.0.0.1", peer.port, peer.username, peer.secret, timeout=2)
        assert move_caller(client, CHANNEL, 9) is False
    assert "No such caller" in caplog.text


def test_an_event_without_a_uniqueid_opens_no_call(listener, ami_peer, database, caplog):
    # Seen on the real Asterisk with 100 callers at once: one record with no channel, no number,
    # "abandoned", sitting on the floor as a caller nobody had.
    ami_peer.emit(hangup(uniqueid=""))
    ami_peer.emit(siaga_call())
    ami_peer.emit(join())
    wait_until(lambda: (c := the_call(database)) is not None and c.state == "queued")
    with database.session() as session:
        assert [c.uniqueid for c in session.scalars(select(Call))] == [UNIQUEID]
    assert "without a Uniqueid" in caplog.text


def test_live_transcription_starts_once_a_busy_database_takes_a_later_event(listener, ami_peer, database, hooks):
    # The dialplan's event names the caller's own recording; the database was too busy to take it
    # in time (kept in the call journal, no call id yet). The caller's join, written a moment
    # later, gives the call id: the caller's side is transcribed from then on, so a caller who
    # waits still has text on the call at pick-up.
    writer, kept = listener.events.writer, []
    real_write = writer.write

    def busy_once(key, entries, **options):
        if not kept:
            kept.append(entries)
            return None
        return real_write(key, entries, **options)

    writer.write = busy_once
    ami_peer.emit(siaga_call())
    ami_peer.emit(join())
    call = wait_until(lambda: (c := the_call(database)) is not None and c)
    hooks.wait_for(("started", call.id, BASE + "-caller.wav"))
