"""Alarms taken while the database is away: acknowledged once kept in the alarm journal, stored once when it is back.

The database is made to refuse (a stopped server) or to hang (a server that accepts and answers
nothing) at the connection pool, under the real receivers: the DC-09 receiver over a socket,
the SOS and button webhooks through the app. `tests/chaos/` does the same to a real PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from routing.alarms import journal as alarm_journal_module
from routing.alarms.dc09 import build_frame
from routing.alarms.buttons import DEVICE_BOOK_COPY, read_device_book
from routing.alarms.journal import alarm_journal, replayer
from siaga112.auth import TOKEN_BOOK_COPY, read_token_book
from siaga112.journal import JournalError
from siaga112.models import Alarm, ApiToken, ButtonEvent, Event
from siaga112.runtime import Runtime
from tests.support.alarm_helpers import Panel, add_site, button_request, count_alarms

MALANG = {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 12}
SECRET = "s3cret-for-button-01"
DEVICE = "btn-bank-jatim-01"
BOUND_S = 0.5  # alarm_db_timeout_seconds in these tests


class Outage:
    """The database as the receivers see it: `stop()` refuses connections, `hang()` holds them
    unanswered until `back()`. Connections already checked out are not affected."""

    def __init__(self, database) -> None:
        self.database = database
        self.state: str | None = None
        self.released = threading.Event()
        event.listen(database.engine, "checkout", self._checkout)

    def _checkout(self, *_args) -> None:
        if self.state == "stopped":
            raise OperationalError("connect", {}, ConnectionRefusedError("the database is stopped"))
        if self.state == "hung":
            self.released.wait(30)

    def stop(self) -> None:
        self.released.clear()
        self.state = "stopped"

    def hang(self) -> None:
        self.released.clear()
        self.state = "hung"

    def back(self) -> None:
        self.state = None
        self.released.set()

    def remove(self) -> None:
        self.back()
        event.remove(self.database.engine, "checkout", self._checkout)


@pytest.fixture
def outage(database, settings):
    settings.alarm_db_timeout_seconds = BOUND_S
    faults = Outage(database)
    yield faults
    faults.remove()


def replay(runtime) -> int:
    return replayer(runtime).replay_once()


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def post_sos(client, headers, key: str | None = None, **body):
    payload = {"reporter": {"phone": "0812-3456-7890", "name": "Sari"}, "location": MALANG, **body}
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/sos", json=payload, headers={**headers, **extra})


def known_token(client, make_token) -> dict:
    """A token the app has used once while the database answered (the app's usual state)."""
    headers = make_token("alarms:write")
    assert client.get("/api/v1/alarms", headers=headers).status_code == 200
    return headers


# --- the app's SOS ----------------------------------------------------------------------------------

def test_an_sos_sent_while_the_database_is_stopped_gets_a_receipt_and_is_stored_once_when_it_returns(
        client, make_token, outage, runtime, database):
    headers = known_token(client, make_token)
    outage.stop()
    first = post_sos(client, headers, "sos-1", message="Ibu pingsan")
    resent = post_sos(client, headers, "sos-1", message="Ibu pingsan")  # the app resends, as apps do
    assert (first.status_code, resent.status_code) == (202, 202)
    receipt = first.get_json()["receipt"]
    assert receipt.startswith("SOS-") and resent.get_json()["receipt"] == receipt
    assert alarm_journal(runtime).counts()["waiting"] == 2  # kept on disk while the database is away ...

    outage.back()
    assert replay(runtime) == 2  # ... and the two kept entries make one alarm
    with database.session() as session:
        [alarm] = session.scalars(select(Alarm)).all()
        assert (alarm.source, alarm.priority, alarm.message, alarm.flags["receipt"]) == ("sos", 9, "Ibu pingsan",
                                                                                        receipt)
        assert "psc119" in [a["code"] for a in alarm.routing["agencies"]]  # routed as usual
        assert alarm.received_at.timestamp() <= time.time()
        announced = session.scalar(select(Event).where(Event.kind == "alarm.new"))
        assert announced.payload["id"] == alarm.id  # the consoles hear of it
    again = post_sos(client, headers, "sos-1", message="Ibu pingsan")
    assert (again.status_code, again.get_json()["id"]) == (200, alarm.id)
    assert count_alarms(database) == 1


def test_an_sos_without_an_idempotency_key_kept_while_the_database_is_away_is_stored_with_its_receipt(
        client, make_token, outage, runtime, database):
    headers = known_token(client, make_token)
    outage.stop()
    response = post_sos(client, headers, location=None)
    assert response.status_code == 202
    outage.back()
    replay(runtime)
    with database.session() as session:
        [alarm] = session.scalars(select(Alarm)).all()
        assert alarm.flags["receipt"] == response.get_json()["receipt"]
        assert alarm.lat is None and "No position" in alarm.flags["location_warning"]


@pytest.fixture
def bounded_waits(monkeypatch):
    """(name, bound) of each bounded wait on the database, as the SOS, buttons and DC-09 paths make them.

    The tests count the waits rather than time them to the tenth: a busy 2-core machine adds its
    own delay to any wall-clock figure, and what matters is that no step waits twice.
    """
    from routing.alarms import receiver
    from siaga112 import bounded, web

    waits: list[tuple[str, float]] = []

    def counted(work, timeout_s, *, name="bounded-db"):
        try:
            return bounded.call_within(work, timeout_s, name=name)
        finally:
            waits.append((name, timeout_s))

    for module in (web, alarm_journal_module, receiver):
        monkeypatch.setattr(module, "call_within", counted)
    return waits


def test_an_sos_sent_to_a_hung_database_is_answered_within_the_bound_and_stored_once(
        client, make_token, outage, runtime, database, bounded_waits):
    headers = known_token(client, make_token)
    bounded_waits.clear()
    outage.hang()
    started = time.monotonic()
    response = post_sos(client, headers, "sos-hung")
    took = time.monotonic() - started
    assert response.status_code == 202
    # The token's look-up and the store each wait at most the bound, once (the store, told the
    # database is away, keeps the alarm without waiting); the wall clock only rules out a hang (a
    # busy 2-core machine adds its own delay on top of the waits).
    names = [name for name, _ in bounded_waits]
    assert names[0] == "token-look-up" and len(names) == len(set(names)) <= 2
    assert set(names) <= {"token-look-up", "alarm-sos"} and all(t == BOUND_S for _, t in bounded_waits)
    assert took < BOUND_S * 2 + 2.0
    outage.back()
    replay(runtime)
    # The write that was waiting when the app got its receipt goes through late, and meets the replay.
    time.sleep(0.2)
    assert count_alarms(database) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "alarm.new")) == 1


def test_a_token_never_used_is_taken_in_an_outage_once_the_scheduler_has_read_the_token_book(
        client, make_token, outage, runtime, database):
    headers = make_token("alarms:write")  # issued to a citizen app that has not sent anything yet
    revoked = make_token("alarms:write")
    with database.session() as session:
        session.execute(update(ApiToken).where(ApiToken.id == session.scalar(select(func.max(ApiToken.id))))
                        .values(revoked=True))
    read_token_book(runtime)  # the scheduler's job, at start and every few minutes
    outage.stop()

    response = post_sos(client, headers, "sos-first")
    refused = post_sos(client, revoked, "sos-revoked")

    assert response.status_code == 202
    assert refused.status_code == 503  # revoked before the book was read: unknown here, resent later
    outage.back()
    replay(runtime)
    assert count_alarms(database) == 1


def test_a_server_started_while_the_database_is_away_knows_the_tokens_from_the_books_copy(
        make_token, outage, settings, database, runtime):
    from center.web import create_app

    headers = make_token("alarms:write")
    read_token_book(runtime)  # the last read before the restart
    copy = Path(settings.journal_dir) / TOKEN_BOOK_COPY
    assert copy.stat().st_mode & 0o777 == 0o600 and headers["Authorization"][7:] not in copy.read_text()
    outage.stop()
    restarted = Runtime(settings=settings, database=database)  # a new process: nothing read yet

    response = post_sos(create_app(restarted, {"TESTING": True}).test_client(), headers, "sos-after-restart")

    assert response.status_code == 202
    os.utime(copy, (time.time() - 13 * 3600,) * 2)  # a copy older than a shift is not trusted
    stale = Runtime(settings=settings, database=database)
    assert post_sos(create_app(stale, {"TESTING": True}).test_client(), headers, "sos-2").status_code == 503


def test_a_token_issued_after_the_book_was_read_is_answered_503_while_the_database_is_away(
        client, make_token, outage, runtime):
    read_token_book(runtime)
    headers = make_token("alarms:write")
    outage.stop()
    response = post_sos(client, headers, "sos-x")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_an_sos_that_can_be_neither_stored_nor_kept_is_refused_so_that_the_app_resends_it(
        client, make_token, outage, runtime, monkeypatch, database):
    headers = known_token(client, make_token)
    outage.stop()
    journal = alarm_journal(runtime)

    def disk_full(*_args, **_kwargs):
        raise JournalError("No space left on device")

    monkeypatch.setattr(journal, "append", disk_full)
    response = post_sos(client, headers, "sos-full")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "not_stored"


def test_while_alarms_wait_in_the_journal_a_new_sos_goes_behind_them_without_waiting_on_the_database(
        client, make_token, outage, runtime, database, bounded_waits):
    headers = known_token(client, make_token)
    outage.hang()
    assert post_sos(client, headers, "first").status_code == 202
    bounded_waits.clear()
    started = time.monotonic()
    assert post_sos(client, headers, "second").status_code == 202
    assert [name for name, _ in bounded_waits] == ["token-look-up"]  # only the token's look-up waited the bound
    assert time.monotonic() - started < BOUND_S + 2.0
    outage.back()
    replay(runtime)
    time.sleep(0.2)
    assert count_alarms(database) == 2


def test_alarms_waiting_in_the_journal_show_on_healthz(client, make_token, outage):
    headers = known_token(client, make_token)
    outage.stop()
    assert post_sos(client, headers, "sos-h").status_code == 202
    outage.back()
    body = client.get("/healthz").get_json()
    assert body["alarm_journal"]["waiting"] == 1
    assert body["status"] == "degraded" and "alarm_journal" in body["alerts"]


# --- IP buttons -------------------------------------------------------------------------------------------

@pytest.fixture
def button(database):
    return add_site(database, device_id=DEVICE, secret=SECRET)


def press(kind="panic", event_id="evt-1"):
    return {"device_id": DEVICE, "event_id": event_id, "event": kind, "ts": int(time.time())}


def test_button_events_while_the_database_is_stopped_are_kept_checked_and_written_in_order(
        client, button, outage, runtime, database):
    assert button_request(client, SECRET, press("test", "evt-0")).status_code == 200  # the device is known
    outage.stop()
    panic = button_request(client, SECRET, press("panic", "evt-1"))
    assert panic.status_code == 202 and panic.get_json()["receipt"] == "evt-1"
    assert button_request(client, SECRET, press("panic", "evt-1")).status_code == 202  # resent
    assert button_request(client, SECRET, press("cancel", "evt-2")).status_code == 202
    assert button_request(client, "the-wrong-secret-000", press("panic", "evt-3")).status_code == 401
    outage.back()
    replay(runtime)
    with database.session() as session:
        [alarm] = session.scalars(select(Alarm)).all()
        assert (alarm.source, alarm.kind, alarm.site_id) == ("button", "panic", button)
        assert "cancel_requested_at" in alarm.flags  # the cancel came after its panic, and was written after it
        assert session.scalar(select(func.count()).select_from(ButtonEvent)) == 3
    assert button_request(client, SECRET, press("panic", "evt-1")).status_code == 200


def test_a_button_added_after_the_sites_were_read_is_answered_503_while_the_database_is_away(
        client, button, outage, runtime):
    outage.stop()
    response = button_request(client, SECRET, press())
    assert response.status_code == 503


def test_a_buttons_first_press_in_an_outage_is_taken_once_the_sites_were_read_even_after_a_restart(
        button, outage, runtime, settings, database):
    from center.web import create_app

    read_device_book(runtime)  # the scheduler's job, at start and every few minutes
    copy = Path(settings.journal_dir) / DEVICE_BOOK_COPY
    assert copy.stat().st_mode & 0o777 == 0o600
    outage.stop()
    restarted = Runtime(settings=settings, database=database)  # a new process, started in the outage

    response = button_request(create_app(restarted, {"TESTING": True}).test_client(), SECRET, press())

    assert response.status_code == 202
    outage.back()
    replay(restarted)
    assert count_alarms(database) == 1


# --- DC-09 panels -------------------------------------------------------------------------------------

@pytest.fixture
def panels(database, settings, outage, receiver):
    add_site(database, account="1234")
    receiver.book.reload()
    return receiver


def test_dc09_frames_while_the_database_is_stopped_are_acknowledged_and_stored_once_when_it_returns(
        panels, outage, database):
    outage.stop()
    frames = [build_frame("1234", f"Nri1/PA{n}", sequence=n) for n in range(1, 4)]
    with Panel(panels.port) as panel:
        assert [panel.send(frame) for frame in frames] == ["ACK"] * 3
    with Panel(panels.port) as panel:  # a panel that missed an ACK resends the same frame
        assert panel.send(frames[1]) == "ACK"
    assert panels.counts.kept == 4
    outage.back()
    wait_for(lambda: count_alarms(database) == 3 and not alarm_journal(panels.runtime).any_waiting())
    with database.session() as session:
        alarms = session.scalars(select(Alarm).order_by(Alarm.id)).all()
        assert [int(a.flags["sequence"]) for a in alarms] == [1, 2, 3]  # in the order the panel sent them
        assert all(a.routing and a.priority == 9 for a in alarms)
        assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "alarm.new")) == 3


def test_a_dc09_frame_to_a_hung_database_is_acknowledged_within_the_bound_and_stored_once(
        panels, outage, database, bounded_waits):
    outage.hang()
    frame = build_frame("1234", "Nri1/PA9", sequence=9)
    with Panel(panels.port) as panel:
        bounded_waits.clear()
        started = time.monotonic()
        assert panel.send(frame) == "ACK"
        assert [name for name, _ in bounded_waits if name == "sia-store"] == ["sia-store"]  # one wait, then kept
        assert time.monotonic() - started < BOUND_S + 2.0
        assert panel.send(build_frame("1234", "Nri1/PA8", sequence=10)) == "ACK"
    outage.back()
    wait_for(lambda: count_alarms(database) == 2 and not alarm_journal(panels.runtime).any_waiting())
    time.sleep(0.3)  # the store that was hung finishes now, and meets the replay's rows
    assert count_alarms(database) == 2


def test_a_dc09_frame_neither_stored_nor_kept_is_naked_so_that_the_panel_resends_it(
        panels, outage, monkeypatch, database):
    outage.stop()

    def disk_full(*_args, **_kwargs):
        raise JournalError("No space left on device")

    monkeypatch.setattr(panels.committer.journal, "append_many", disk_full)
    with Panel(panels.port) as panel:
        assert panel.send(build_frame("1234", "Nri1/PA1", sequence=1)) == "NAK"
    monkeypatch.undo()
    outage.back()
    with Panel(panels.port) as panel:
        assert panel.send(build_frame("1234", "Nri1/PA1", sequence=1)) == "ACK"
    assert count_alarms(database) == 1


def test_the_alarm_journal_is_its_own_folder_apart_from_the_calls(runtime):
    journal = alarm_journal(runtime)
    assert journal.folder.name == alarm_journal_module.FOLDER
    assert journal.folder.parent == alarm_journal_module.Path(runtime.settings.journal_dir)


# --- the DC-09 receiver started while the database is away -----------------------------------------

def _receiver_started_with_the_database(runtime, outage):
    from routing.alarms.receiver import AlarmReceiverService

    outage.stop()
    service = AlarmReceiverService(runtime)
    started = time.monotonic()
    service.start()  # it listens, though the accounts cannot be read
    assert time.monotonic() - started < BOUND_S + 2
    return service


def test_a_receiver_started_while_the_database_is_stopped_keeps_the_frames_of_the_panels_it_knew(
        runtime, database, outage):
    from routing.alarms.receiver import AlarmReceiverService

    add_site(database, account="1234")
    first = AlarmReceiverService(runtime)  # a run with the database: the accounts are read, and copied
    first.start()
    first.stop()
    service = _receiver_started_with_the_database(runtime, outage)
    try:
        frames = [build_frame("1234", f"Nri1/PA{n}", sequence=n) for n in range(1, 3)]
        with Panel(service.port) as panel:
            assert [panel.send(frame) for frame in frames] == ["ACK", "ACK"]  # kept in the journal, then ACK
        assert service.counts.kept == 2
        outage.back()
        wait_for(lambda: count_alarms(database) == 2 and not alarm_journal(runtime).any_waiting())
        wait_for(lambda: service.book.from_database)
    finally:
        service.stop()
    with database.session() as session:
        assert [int(a.flags["sequence"]) for a in session.scalars(select(Alarm).order_by(Alarm.id))] == [1, 2]


def test_a_receiver_started_for_the_first_time_while_the_database_is_stopped_asks_for_resends_until_it_is_back(
        runtime, database, outage):
    add_site(database, account="1234")
    service = _receiver_started_with_the_database(runtime, outage)
    try:
        frame = build_frame("1234", "Nri1/PA1", sequence=1)
        with Panel(service.port) as panel:
            assert panel.send(frame) == "NAK"  # not DUH: the panel resends an account we could not read yet
        outage.back()
        wait_for(lambda: service.book.from_database)
        with Panel(service.port) as panel:
            assert panel.send(frame) == "ACK"
        assert count_alarms(database) == 1
    finally:
        service.stop()


def test_the_copy_of_the_dc09_accounts_is_readable_by_its_owner_only(runtime, database):
    import stat

    from routing.alarms.receiver import AccountBook

    add_site(database, account="1234")
    book = AccountBook(runtime)
    book.reload()
    assert stat.S_IMODE(book.copy_path.stat().st_mode) == 0o600
    fresh = AccountBook(runtime)
    assert fresh.load_copy() and set(fresh.accounts) == {"1234"} and fresh.sites["1234"] == book.sites["1234"]
    assert not fresh.from_database
