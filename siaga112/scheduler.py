"""Periodic work on APScheduler: retention, unit staleness, panel supervision, retries, transcription."""

from __future__ import annotations

import logging
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from siaga112.runtime import Runtime

log = logging.getLogger(__name__)


def _jobs() -> list[tuple[str, Callable[[Runtime], None], dict]]:
    """Every periodic job, in one explicit table: (name, function(runtime), trigger arguments)."""
    from routing.notify import retry_due
    from routing.units import mark_stale_units
    from routing.alarms.supervision import check_panels
    from recordings.jobs import POLL_SECONDS, run_due
    from recordings.retention import run_retention

    return [
        ("units-stale", mark_stale_units, {"seconds": 30}),
        ("sms-retry", retry_due, {"seconds": 15}),
        ("panel-supervision", check_panels, {"seconds": 15}),
        ("recordings-retention", run_retention, {"hours": 1}),
        ("transcription", run_due, {"seconds": POLL_SECONDS}),
    ]


class SchedulerService:
    name = "scheduler"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.scheduler = BackgroundScheduler(timezone="UTC")
        for name, function, trigger in _jobs():
            self.scheduler.add_job(self._guarded(name, function), "interval", id=name, name=name,
                                   max_instances=1, coalesce=True, **trigger)

    def _guarded(self, name: str, function: Callable[[Runtime], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                function(self.runtime)
            except Exception:  # one failing job must not stop the others
                log.exception("scheduled job %s failed", name)

        return run

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
