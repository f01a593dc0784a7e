"""The centre's periodic jobs, in one explicit table, for the frame's scheduler service."""

from __future__ import annotations

from datetime import datetime, timezone

from siaga112.runtime import Runtime
from siaga112.scheduler import Job, SchedulerService


def jobs() -> list[Job]:
    """Every periodic job: (name, function(runtime), trigger arguments)."""
    from location_link.evidence import run_retention as evidence_retention
    from recordings.jobs import POLL_SECONDS, run_due
    from recordings.retention import run_retention
    from routing.alarms.buttons import read_device_book
    from routing.alarms.supervision import check_panels
    from routing.notify import retry_due
    from routing.units import mark_stale_units
    from siaga112.auth import TOKEN_BOOK_MINUTES, read_token_book
    from siaga112.idempotency import purge as purge_idempotency_keys

    return [
        ("units-stale", mark_stale_units, {"seconds": 30}),
        ("sms-retry", retry_due, {"seconds": 15}),
        ("panel-supervision", check_panels, {"seconds": 15}),
        ("recordings-retention", run_retention, {"hours": 1}),
        ("evidence-retention", evidence_retention, {"hours": 1}),
        ("transcription", run_due, {"seconds": POLL_SECONDS}),
        ("idempotency-purge", purge_idempotency_keys, {"hours": 1}),
        # At once, then every few minutes: an SOS from a token never used before, or a button's first
        # press, is taken in an outage.
        ("token-book", read_token_book, {"minutes": TOKEN_BOOK_MINUTES, "next_run_time": datetime.now(timezone.utc)}),
        ("button-book", read_device_book, {"minutes": TOKEN_BOOK_MINUTES, "next_run_time": datetime.now(timezone.utc)}),
    ]


def scheduler_service(runtime: Runtime) -> SchedulerService:
    return SchedulerService(runtime, jobs())
