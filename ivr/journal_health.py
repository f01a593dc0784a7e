"""Health of the call journal for /healthz and the floor: entries waiting, its disk, its write failures."""

from __future__ import annotations

from siaga112.journal import Journal
from siaga112.storage import disk_health, write_probe


def call_journal_health(runtime) -> dict:
    """`ok`; `warning` when calls wait to be written or its disk runs low; `failing` when it cannot be written."""
    from ivr.server import JOURNAL_CLIENT

    settings = runtime.settings
    journal: Journal = runtime.client(JOURNAL_CLIENT, lambda s: Journal(s.journal_dir))
    body = {**journal.counts(), **disk_health(settings.journal_dir, settings.disk_warning_free_percent)}
    body["disk"] = body.pop("status")
    body["write_failures"] = journal.write_failures
    if journal.last_failure:
        body["last_failure"] = journal.last_failure
    failure = write_probe(settings.journal_dir) if journal.folder.exists() else None
    body["writable"] = failure is None
    if failure:
        body["write_error"] = failure
    if failure or body["disk"] in ("full", "unreadable") or not body.get("readable", True):
        body.update(status="failing", alert="critical")
    elif body["disk"] == "low" or body.get("waiting") or body.get("given_up"):
        body.update(status="warning", alert="warning")
    else:
        body["status"] = "ok"
    return body
