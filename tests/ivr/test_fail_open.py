"""Life safety: with its database gone, the IVR still hands every caller back to the queue at once."""

from __future__ import annotations

import logging

from ivr.asterisk_peer import Caller, Channel, Press, Sounds, run_call
from ivr.priority import FAIL_OPEN
from ivr.server import AgiService
from siaga112.db import Database
from siaga112.journal import Journal
from siaga112.runtime import Runtime
from siaga112.settings import load_settings


def test_a_call_during_a_database_outage_ends_the_agi_with_a_queue_priority(tmp_path, caplog):
    settings = load_settings(overrides={
        "data_dir": str(tmp_path),
        "recordings_dir": str(tmp_path),
        "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/unreachable",
        "agi_port": 0,
    }, environ={})
    runtime = Runtime(settings=settings, database=Database(settings.database_url))
    service = AgiService(runtime)
    service.start()
    channel = Channel(caller_id="+6281234567890")
    try:
        with caplog.at_level(logging.WARNING):
            record = run_call("127.0.0.1", service.port, channel,
                              Caller(presses=[Press("3", during="prompt")]),
                              sounds=Sounds(dirs=[], missing_length=4000), timeout=30)
    finally:
        service.stop()
        runtime.database.dispose()

    # The dialplan queues the caller after any AGISTATUS; what matters is that the IVR let go
    # of the call instead of holding it, left the dialplan's fail-open priority (not an
    # ordinary call's), and kept the call in the journal for when the database is back.
    assert record.agi_status == "SUCCESS"
    assert not record.timed_out
    assert record.value("QUEUE_PRIO") == str(FAIL_OPEN)
    assert record.value("SIAGA_UNIQUEID") == channel.uniqueid
    kinds = [entry.kind for entry in Journal(settings.journal_dir).waiting()]
    assert kinds == ["open", "finish"]
    assert "kept in the call journal" in caplog.text
