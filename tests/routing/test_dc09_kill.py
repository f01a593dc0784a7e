"""Killed mid-stream: every frame the receiver acknowledged is in the database afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from routing.alarms.dc09 import build_frame
from siaga112.models import Alarm
from tests.support.alarm_helpers import Panel, add_site

PANELS = 10
KILL_AFTER_ACKS = 300
LISTENING = re.compile(r"""SIA\ DC-09\ receiver\ on\ (?P<host>[\d.]+):(?P<port>\d+)""", re.VERBOSE)


def start_serve(tmp_path, database) -> tuple[subprocess.Popen, int, threading.Thread]:
    """`siaga112 serve --only alarms` in its own process: (process, port, thread draining its log)."""
    env = {**os.environ, "SIAGA112_DATA_DIR": str(tmp_path), "SIAGA112_DATABASE_URL": database.url,
           "SIAGA112_SIA_PORT": "0", "SIAGA112_SECRET_KEY": "test", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen([sys.executable, "-m", "center.cli", "serve", "--only", "alarms"], env=env,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in process.stderr:
        match = LISTENING.search(line)
        if match:
            drain = threading.Thread(target=process.stderr.read, daemon=True)  # keep the pipe from filling
            drain.start()
            return process, int(match.group("port")), drain
    raise AssertionError(f"the receiver did not start (exit {process.wait(timeout=10)})")


@pytest.mark.slow
def test_every_acknowledged_frame_survives_a_sigkill_of_the_receiver(tmp_path, database):
    accounts = [f"{0xA00 + n:X}" for n in range(PANELS)]
    for account in accounts:
        add_site(database, account=account)
    process, port, drain = start_serve(tmp_path, database)
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def panel_run(account: str) -> None:
        try:
            with Panel(port) as panel:
                for sequence in range(1, 10000):
                    frame = build_frame(account, f"Nri1/PA{sequence}", sequence=sequence)
                    if panel.send(frame) != "ACK":
                        continue
                    with lock:
                        acked.append(frame.decode().strip())
                        if len(acked) >= KILL_AFTER_ACKS:
                            enough.set()
        except OSError:  # the receiver was killed under us: what was ACKed is what counts
            pass

    threads = [threading.Thread(target=panel_run, args=(a,)) for a in accounts]
    try:
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=120), f"only {len(acked)} ACKs before the timeout"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        drain.join(timeout=30)
        process.stderr.close()
    for thread in threads:
        thread.join(timeout=30)
    with lock:
        acknowledged = set(acked)
    with database.session() as session:
        stored = set(session.scalars(select(Alarm.raw)))
    assert len(acknowledged) >= KILL_AFTER_ACKS
    assert acknowledged - stored == set()
