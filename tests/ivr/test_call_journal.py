"""Calls while the database is away or hung: callers released at once with the fail-open priority,
and every call on record exactly once, with its answer and end in order, when the database is back."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from ivr import channel_vars as var
from ivr.asterisk_peer import Caller, Channel, Press
from ivr.priority import FAIL_OPEN
from siaga112.journal import Journal
from siaga112.models import Call, Event, User
from tests.ivr.conftest import call_row

CALLER = "+6281234567890"


class Outage:
    """Makes one Database instance away (`down`: refuses at once) or hung (`hang`: waits until `back`)."""

    def __init__(self, database) -> None:
        self.database = database
        self.real = database.session
        self.mode = "up"
        self.released = threading.Event()
        database.session = self.session

    @contextlib.contextmanager
    def session(self):
        if self.mode == "down":
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database is away"))
        if self.mode == "hang":
            self.released.wait(30)
        with self.real() as session:
            yield session

    def down(self) -> None:
        self.mode = "down"

    def hang(self) -> None:
        self.released.clear()
        self.mode = "hang"

    def back(self) -> None:
        self.mode = "up"
        self.released.set()

    def restore(self) -> None:
        self.back()
        self.database.session = self.real


@pytest.fixture
def outage(database):
    broken = Outage(database)
    yield broken
    broken.restore()


def agent_leg(record, interface="PJSIP/1001") -> Channel:
    """The call-taker's leg as Queue() runs agent-connected, with what the caller's channel passed on."""
    variables = {var.CONNECTEDLINE_NUM: CALLER, var.MEMBERINTERFACE: interface, "CALLERID(num)": "112"}
    for name in (var.SIAGA_CALL_ID, var.SIAGA_UNIQUEID):
        if record.value(name):
            variables[name] = record.value(name)
    return Channel(script="agent-connected", name="PJSIP/1001-0000001", context="agent-connect", extension="s",
                   answered=True, variables=variables)


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("the condition never came true")


def count_calls(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Call))


def test_a_call_answered_and_ended_while_the_database_was_down_is_on_record_once_it_is_back(
        agi_server, place_call, outage, make_user, database, hook_log):
    make_user("calltaker", username="agent1", phone_interface="PJSIP/1001")
    outage.down()
    caller = Channel(caller_id=CALLER)
    started = time.monotonic()
    record = place_call(caller, Caller(presses=[Press("3", during="prompt")]))
    assert time.monotonic() - started < 10  # the whole simulated IVR, never held on the database
    assert record.agi_status == "SUCCESS" and record.value(var.QUEUE_PRIO) == str(FAIL_OPEN)
    assert record.value(var.SIAGA_CALL_ID) is None and record.value(var.SIAGA_UNIQUEID) == caller.uniqueid
    place_call(agent_leg(record), Caller())
    place_call(Channel(script="call-ended", uniqueid=caller.uniqueid, caller_id=CALLER, extension="h",
                       answered=True), Caller())
    assert [e.kind for e in agi_server.journal.waiting()] == ["open", "finish", "answer", "end"]

    outage.back()
    agi_server.replayer.wake()
    wait_for(lambda: not agi_server.journal.waiting())

    with database.session() as session:
        [call] = session.scalars(select(Call)).all()
        agent = session.get(User, call.agent_id)
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
    assert (call.uniqueid, call.state, call.service_choice, agent.username) == (
        caller.uniqueid, "completed", "medical", "agent1")
    assert call.started_at <= call.queued_at <= call.answered_at <= call.ended_at
    assert call.ended_at - call.started_at < timedelta(seconds=30)  # the times they happened, not of the replay
    assert kinds.index("call.queued") < kinds.index("call.answered") < kinds.index("call.ended")
    assert hook_log.ended == [call.id]
    agi_server.replayer.replay_once()
    assert count_calls(database) == 1


def test_a_hung_database_releases_each_caller_within_a_second_and_writes_each_call_once(
        agi_server, place_call, outage, database):
    outage.hang()
    releases, records = [], []
    channels = [Channel(caller_id=f"+62812345678{number}") for number in range(3)]
    for channel in channels:
        started = time.monotonic()
        records.append(place_call(channel, Caller()))
        releases.append(time.monotonic() - started)
    # The call's first write is given up after ivr_db_timeout_seconds; the rest go to the journal.
    assert max(releases) < agi_server.store.timeout_s + 0.5
    assert all(r.value(var.QUEUE_PRIO) == str(FAIL_OPEN) for r in records)

    outage.back()
    agi_server.replayer.wake()
    wait_for(lambda: not agi_server.journal.waiting() and count_calls(database) == 3)
    agi_server.replayer.replay_once()
    time.sleep(0.2)  # anything the writer had queued has had its chance to run, and must not have
    with database.session() as session:
        calls = session.scalars(select(Call).order_by(Call.id)).all()
    assert sorted(c.uniqueid for c in calls) == sorted(c.uniqueid for c in channels)
    assert all(c.state == "queued" for c in calls)
    # The jobs the callers gave up on never ran (the first was already running when the
    # database hung: it went through, and the journal's copy found it there).
    assert agi_server.store.abandoned >= 2


def test_the_ami_listeners_answer_is_written_now_or_kept_within_its_timeout(agi_server, place_call, outage,
                                                                            database):
    from ivr.call_journal import ANSWER, CallWriter

    channel = Channel(caller_id=CALLER)
    place_call(channel, Caller())
    writer = CallWriter(agi_server.journal, database, timeout_s=0.5)
    data = {"call_ref": None, "caller": CALLER, "interface": "PJSIP/1001"}
    assert writer.write(channel.uniqueid, [(ANSWER, data)]) == [1]
    assert call_row(database, 1).answered_at is not None

    outage.hang()
    started = time.monotonic()
    assert writer.write("1795000000.9", [(ANSWER, data)]) is None
    # The first write is stuck on the hung database: the next is kept at once, not queued behind it.
    assert writer.write("1795000000.10", [(ANSWER, data)]) is None
    assert time.monotonic() - started < 1.0
    assert [e.kind for e in agi_server.journal.waiting()] == [ANSWER, ANSWER]
    outage.back()
    writer.close()


def test_journal_entries_survive_a_restart_and_are_replayed_by_the_next_process(tmp_path):
    journal = Journal(tmp_path)
    journal.append("1.1", "open", {"a": "b\u0000"})
    journal.close()
    again = Journal(tmp_path)
    [entry] = again.waiting()
    assert (entry.key, entry.kind, entry.data) == ("1.1", "open", {"a": "b\u0000"})
    assert again.holds("1.1") and not again.holds("1.2")


def test_a_full_journal_disk_is_counted_and_raised(tmp_path):
    journal = Journal(tmp_path / "file-not-folder")
    (tmp_path / "file-not-folder").write_text("in the way")
    with pytest.raises(OSError):
        journal.append("1.1", "open", {})
    assert journal.write_failures == 1 and journal.last_failure


def test_work_after_a_replay_is_told_only_what_was_committed(database, tmp_path):
    # An applier notes in the session what is to be done once the write stands (a call's end: the
    # recordings are final). A group whose write fails is kept, and its notes go nowhere.
    from siaga112.journal import Replayer

    def note(session, entry):
        session.info.setdefault("ended", []).append(entry.key)
        if entry.data.get("fails"):
            raise ValueError("this write fails")

    told = []
    journal = Journal(tmp_path / "journal")
    journal.append("1.1", "end", {})
    journal.append("1.2", "end", {"fails": True})
    journal.append("1.3", "end", {})
    replayer = Replayer(journal, database, {"end": note},
                        after_commit=lambda entries, notes: told.append(list(notes.get("ended", ()))))
    assert replayer.replay_once() == 2
    assert told == [["1.1"], ["1.3"]]
