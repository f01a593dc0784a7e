"""Periodic work on APScheduler: each job guarded, so one that fails never stops the others."""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from apscheduler.schedulers.background import BackgroundScheduler

from siaga112.runtime import Runtime

log = logging.getLogger(__name__)
# APScheduler logs every run of every job at INFO ("Running job ... executed successfully"):
# with jobs every 5 to 15 s that buries what matters. Its warnings and errors still show.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

# (name, function(runtime), interval trigger arguments); `center.scheduler.JOBS` lists them.
Job = tuple[str, Callable[[Runtime], None], dict]


class SchedulerService:
    name = "scheduler"

    def __init__(self, runtime: Runtime, jobs: Iterable[Job]) -> None:
        self.runtime = runtime
        self.scheduler = BackgroundScheduler(timezone="UTC")
        for name, function, trigger in jobs:
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
        # Running jobs see `stopping` and end soon (an encode is killed, a backlog left for the
        # next start), so waiting for them stays within serve's stop budget.
        self.runtime.stopping.set()
        self.scheduler.shutdown(wait=True)
