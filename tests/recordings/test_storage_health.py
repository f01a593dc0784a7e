"""Health that tells: a recordings folder or call journal filling up or failing is on /healthz and the floor."""

from __future__ import annotations

import os
from collections import namedtuple

import pytest

from siaga112 import storage
from siaga112.journal import Journal
from tests.support.console_client import sign_in

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def app(runtime):
    from center.web import create_app

    return create_app(runtime, {"TESTING": True})


def test_healthy_storage_is_ok_on_healthz(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["recordings_storage"]["status"] == "ok" and body["recordings_storage"]["writable"] is True
    assert body["call_journal"]["status"] == "ok" and body["call_journal"]["waiting"] == 0


def test_a_recordings_disk_below_the_warning_share_degrades_healthz_before_it_is_full(client, monkeypatch, settings):
    real = storage.shutil.disk_usage

    def nearly_full(path):
        if str(path).startswith(settings.recordings_dir):
            return Usage(100 * 2**30, 95 * 2**30, 5 * 2**30)  # 5 % free, the warning is at 10 %
        return real(path)

    monkeypatch.setattr(storage.shutil, "disk_usage", nearly_full)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200  # calls still flow: degraded, not down
    assert body["status"] == "degraded" and body["alerts"] == ["recordings_storage"]
    assert (body["recordings_storage"]["status"], body["recordings_storage"]["free_percent"]) == ("warning", 5.0)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_recordings_folder_that_cannot_be_written_is_critical(client, settings):
    os.chmod(settings.recordings_dir, 0o500)
    try:
        body = client.get("/healthz").get_json()
    finally:
        os.chmod(settings.recordings_dir, 0o700)
    assert body["recordings_storage"]["status"] == "failing" and body["recordings_storage"]["alert"] == "critical"


def test_calls_waiting_in_the_journal_and_its_write_failures_show_on_healthz_and_the_floor(client, database, runtime):
    from ivr.server import JOURNAL_CLIENT

    journal = runtime.client(JOURNAL_CLIENT, lambda s: Journal(s.journal_dir))
    journal.append("1795000000.1", "open", {"caller": "+6281234567890"})
    journal.write_failures = 2
    body = client.get("/healthz").get_json()
    assert body["call_journal"]["waiting"] == 1 and body["call_journal"]["write_failures"] == 2
    assert body["status"] == "degraded" and "call_journal" in body["alerts"]

    sign_in(client, database, "supervisor")
    page = client.get("/supervisor/").get_data(as_text=True)
    assert 'data-part="call_journal"' in page and "1 catatan menunggu basis data" in page
