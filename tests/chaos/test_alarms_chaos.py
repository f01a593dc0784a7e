"""Alarms through a real `serve` while its PostgreSQL is stopped, killed (-9) and hung (SIGSTOP).

Panels speak DC-09 and resend a frame until it is acknowledged, as a panel does (the same
bytes: a retransmission); the citizen app posts its SOS and resends it with the same
Idempotency-Key until it gets its 201. Every acknowledged frame and every answered SOS is
stored, and none twice.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from routing.alarms.dc09 import build_frame
from siaga112 import auth
from siaga112.models import Alarm, Event
from tests.support.waiting import wait_until
from tests.support.alarm_helpers import Panel, add_site

pytestmark = pytest.mark.chaos

PANELS = 4
FRAMES_PER_PANEL = 6
SOS_PER_PHASE = 4
FAULT_SECONDS = 2.0
GIVE_UP_S = 40.0


class Sent:
    """What the senders were told: frames acknowledged, SOS answered 201 (alarm ids)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: list[str] = []
        self.sos: dict[str, int] = {}
        self.unanswered: list[str] = []


def panel_run(port: int, account: str, first_sequence: int, sent: Sent) -> None:
    panel = None
    for sequence in range(first_sequence, first_sequence + FRAMES_PER_PANEL):
        frame = build_frame(account, f"Nri1/PA{sequence % 100}", sequence=sequence)
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            try:
                panel = panel or Panel(port)
                reply = panel.send(frame)
            except OSError:  # no reply in time, or the receiver hung up: reconnect and resend
                if panel is not None:
                    panel.close()
                panel = None
                time.sleep(0.2)
                continue
            if reply == "ACK":
                with sent.lock:
                    sent.acked.append(frame.decode().strip())
                break
            time.sleep(0.2)  # NAK: the panel resends the same frame
        else:
            with sent.lock:
                sent.unanswered.append(frame.decode().strip())
        time.sleep(0.05)
    if panel is not None:
        panel.close()


def sos_run(port: int, token: str, key: str, sent: Sent) -> None:
    body = json.dumps({"reporter": {"phone": "+6281234567890", "name": f"Chaos {key}"},
                       "location": {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 10}}).encode()
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sos", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=4) as response:
                if response.status in (200, 201):
                    with sent.lock:
                        sent.sos[key] = json.load(response)["id"]
                    return
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError):
            pass  # 5xx, refused or no answer in time: the app resends the same SOS
        time.sleep(0.3)
    with sent.lock:
        sent.unanswered.append(key)


def test_no_acknowledged_alarm_is_lost_or_doubled_when_postgresql_is_stopped_killed_or_hung(
        chaos_postgres, chaos_database, serve_process):
    accounts = [f"{0xC00 + n:X}" for n in range(PANELS)]
    for account in accounts:
        add_site(chaos_database, account=account)
    with chaos_database.session() as session:
        token = auth.create_token(session, "chaos-app", ["alarms:write"])
    serve = serve_process(chaos_database.url, "alarms,web")
    sent = Sent()
    faults = {
        "stopped": (chaos_postgres.stop, chaos_postgres.start),
        "killed": (chaos_postgres.kill, chaos_postgres.start),
        "hung": (chaos_postgres.hang, chaos_postgres.resume),
    }
    for number, (phase, (fault, repair)) in enumerate(faults.items()):
        senders = [threading.Thread(target=panel_run, args=(serve.ports["alarms"], account,
                                                            1 + number * FRAMES_PER_PANEL, sent))
                   for account in accounts]
        senders += [threading.Thread(target=sos_run, args=(serve.ports["web"], token, f"{phase}-{n}", sent))
                    for n in range(SOS_PER_PHASE)]
        for sender in senders:
            sender.start()
        time.sleep(0.3)  # some alarms in flight when the fault strikes
        fault()
        try:
            time.sleep(FAULT_SECONDS)
        finally:
            repair()
        for sender in senders:
            sender.join(GIVE_UP_S + 10)

    assert sent.unanswered == []
    assert len(set(sent.acked)) == PANELS * FRAMES_PER_PANEL * len(faults)
    assert len(sent.sos) == SOS_PER_PHASE * len(faults)

    def stored():
        with chaos_database.session() as session:
            return session.execute(select(Alarm.source, Alarm.raw, Alarm.id)).all()

    rows = wait_until(lambda: (rows := stored()) and len(rows) >= len(set(sent.acked)) + len(sent.sos) and rows)
    panel_raws = [row.raw for row in rows if row.source == "panel"]
    # 0 lost: every acknowledged frame and every answered SOS is there; 0 doubled: once each.
    assert set(sent.acked) <= set(panel_raws)
    assert len(panel_raws) == len(set(panel_raws)) == len(set(sent.acked))
    sos_ids = {row.id for row in rows if row.source == "sos"}
    assert set(sent.sos.values()) == sos_ids
    with chaos_database.session() as session:
        assert session.scalar(select(func.count()).select_from(Alarm)) == len(set(sent.acked)) + len(sent.sos)


# --- kept in the alarm journal while the database is away --------------------------------------------

STEADY_FRAMES = 12  # each panel sends one frame every FRAME_EVERY_S, across the fault
FRAME_EVERY_S = 0.3
OUTAGE_S = 3.0


class Answered:
    """What the senders were told, with how long each wait for an answer took."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: list[str] = []
        self.sos: dict[str, tuple[int, dict]] = {}  # Idempotency-Key -> (status, body)
        self.waits: list[float] = []
        self.unanswered: list[str] = []


def steady_panel(port: int, account: str, first_sequence: int, answered: Answered) -> None:
    """A panel reporting all through the fault: ACK means stored, so it moves on to the next."""
    panel = None
    for sequence in range(first_sequence, first_sequence + STEADY_FRAMES):
        frame = build_frame(account, f"Nri{sequence % 9 + 1}/PA{sequence % 100}", sequence=sequence)
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            try:
                panel = panel or Panel(port)
                started = time.monotonic()
                reply = panel.send(frame)
            except OSError:
                if panel is not None:
                    panel.close()
                panel = None
                time.sleep(0.2)
                continue
            with answered.lock:
                answered.waits.append(time.monotonic() - started)
            if reply == "ACK":
                with answered.lock:
                    answered.acked.append(frame.decode().strip())
                break
            time.sleep(0.2)
        else:
            with answered.lock:
                answered.unanswered.append(frame.decode().strip())
        time.sleep(FRAME_EVERY_S)
    if panel is not None:
        panel.close()


def app_sos(port: int, token: str, key: str, answered: Answered, delay: float) -> None:
    """The app: a 2xx (201 with the alarm, or 202 with a receipt) means the SOS is safe."""
    time.sleep(delay)
    body = json.dumps({"reporter": {"phone": "+6281234567890", "name": f"Chaos {key}"},
                       "location": {"lat": -7.9666, "lon": 112.6326, "accuracy_m": 10}}).encode()
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sos", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=6) as response:
                with answered.lock:
                    answered.waits.append(time.monotonic() - started)
                    answered.sos[key] = (response.status, json.load(response))
                return
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    with answered.lock:
        answered.unanswered.append(key)


@pytest.mark.parametrize("fault", ["stopped", "killed", "hung"])
def test_alarms_arriving_while_postgresql_is_away_are_acknowledged_from_the_journal_and_stored_once(
        chaos_postgres, chaos_database, serve_process, tmp_path, fault):
    from siaga112.journal import Journal

    accounts = [f"{0xD00 + n:X}" for n in range(PANELS)]
    for account in accounts:
        add_site(chaos_database, account=account)
    with chaos_database.session() as session:
        token = auth.create_token(session, "chaos-app", ["alarms:write"])
    serve = serve_process(chaos_database.url, "alarms,web")
    sos_run(serve.ports["web"], token, "warm-up", Sent())  # the app has used its token before
    answered = Answered()
    senders = [threading.Thread(target=steady_panel, args=(serve.ports["alarms"], account, 1, answered))
               for account in accounts]
    senders += [threading.Thread(target=app_sos, args=(serve.ports["web"], token, f"{fault}-{n}", answered,
                                                       0.6 + n * 0.6)) for n in range(SOS_PER_PHASE)]
    for sender in senders:
        sender.start()
    time.sleep(0.5)
    cut, mend = {"stopped": (chaos_postgres.stop, chaos_postgres.start),
                 "killed": (chaos_postgres.kill, chaos_postgres.start),
                 "hung": (chaos_postgres.hang, chaos_postgres.resume)}[fault]
    cut()
    try:
        time.sleep(OUTAGE_S)
    finally:
        mend()
    back_at = time.monotonic()
    for sender in senders:
        sender.join(GIVE_UP_S + 10)

    assert answered.unanswered == []
    assert len(set(answered.acked)) == PANELS * STEADY_FRAMES
    assert len(answered.sos) == SOS_PER_PHASE
    kept = [key for key, (status, _body) in answered.sos.items() if status == 202]
    assert kept, "no SOS arrived while the database was away"
    assert all(body["receipt"].startswith("SOS-") for status, body in answered.sos.values() if status == 202)

    journal = Journal(tmp_path / "journal" / "alarms")
    wait_until(lambda: journal.counts().get("waiting") == 0, timeout=30)
    written_in = time.monotonic() - back_at

    with chaos_database.session() as session:
        rows = session.execute(select(Alarm.source, Alarm.raw, Alarm.dedupe_key, Alarm.id)).all()
        announced = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "alarm.new"))
    panel_raws = [row.raw for row in rows if row.source == "panel"]
    sos_keys = [row.dedupe_key for row in rows if row.source == "sos"]
    print(f"chaos alarms, PostgreSQL {fault} {OUTAGE_S:g} s: {len(answered.acked)} frames and "
          f"{len(answered.sos)} SOS answered ({len(kept)} with a receipt), longest wait for an answer "
          f"{max(answered.waits):.2f} s; journal written {written_in:.1f} s after the database came back")
    # 0 lost: every acknowledged frame and every answered SOS is stored; 0 doubled: once each.
    assert sorted(panel_raws) == sorted(set(answered.acked))
    for key in answered.sos:
        assert sum(1 for stored in sos_keys if stored.endswith(f":{key}")) == 1, key
    assert len(sos_keys) == SOS_PER_PHASE + 1  # and the warm-up's
    assert announced == len(rows)  # every alarm reached the consoles' event stream
    # Bounded: no panel or app waited on the database past alarm_db_timeout_seconds (2 s) for long.
    assert max(answered.waits) < 2.0 * 2 + 1.0


def test_serve_started_while_postgresql_is_stopped_runs_the_dc09_receiver_and_stores_every_acknowledged_frame(
        chaos_postgres, chaos_database, serve_process):
    add_site(chaos_database, account="D42")
    serve_process(chaos_database.url, "alarms").terminate()  # a run with the database: accounts read and copied
    frames = [build_frame("D42", f"Nri1/PA{n}", sequence=n) for n in (1, 2, 3)]
    chaos_postgres.stop()
    try:
        serve = serve_process(chaos_database.url, "alarms")  # starts, and listens, without the database
        with Panel(serve.ports["alarms"]) as panel:
            assert [panel.send(frame) for frame in frames] == ["ACK"] * 3
    finally:
        chaos_postgres.start()

    def stored() -> list[str]:
        with chaos_database.session() as session:
            return sorted(session.scalars(select(Alarm.raw).where(Alarm.source == "panel")))

    wait_until(lambda: len(stored()) == 3, timeout=30)
    assert stored() == sorted(frame.decode().strip() for frame in frames)  # 0 lost, 0 doubled
