"""The recordings disk full, for real (a 1 MiB tmpfs): calls go on and are all on record, and
/healthz says recordings are failing before anyone finds out from an empty file."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from sqlalchemy import select

from siaga112.models import Call
from tests.support.waiting import wait_until
from tests.chaos.calls import CALLS_PER_PHASE, place_calls

pytestmark = pytest.mark.chaos


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB file system for the recordings (tmpfs), unmounted after the test."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs could not be mounted here ({mounted.stderr.strip() or mounted.returncode}); "
                    "a faked free space would not test a full disk")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder) -> int:
    """Write until the disk refuses: what a backlog of recordings does. The bytes written."""
    written = 0
    with open(folder / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
                written += 65536
        except OSError:
            pass
    return written


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return json.load(response)


def test_a_full_recordings_disk_loses_no_call_and_healthz_says_so(small_disk, chaos_database, serve_process):
    serve = serve_process(chaos_database.url, "agi,web", recordings_dir=str(small_disk))
    assert healthz(serve.ports["web"])["recordings_storage"]["status"] == "ok"
    fill(small_disk)

    placed = place_calls(serve.ports["agi"], 500, "disk-full")

    def on_record():
        with chaos_database.session() as session:
            rows = session.execute(select(Call.uniqueid, Call.state)).all()
        return rows if len(rows) == len(placed) and all(r.state == "completed" for r in rows) else None

    rows = wait_until(on_record, timeout=20)
    assert sorted(r.uniqueid for r in rows) == sorted(call["uniqueid"] for call in placed)
    assert len(rows) == CALLS_PER_PHASE and all(call["priority"] >= 5 for call in placed)
    body = healthz(serve.ports["web"])
    assert body["status"] == "degraded" and "recordings_storage" in body["alerts"]
    storage = body["recordings_storage"]
    assert (storage["status"], storage["alert"], storage["writable"]) == ("failing", "critical", False)
    assert "No space left" in storage["write_error"]

    (small_disk / "filler").unlink()
    assert healthz(serve.ports["web"])["recordings_storage"]["writable"] is True
