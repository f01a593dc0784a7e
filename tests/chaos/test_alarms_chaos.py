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
from siaga112.models import Alarm
from tests.chaos.conftest import wait_until
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
