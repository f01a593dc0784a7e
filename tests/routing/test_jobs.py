"""Routing's periodic work is in the scheduler's table: silent units and SMS retries."""

from __future__ import annotations

from center.scheduler import jobs as _jobs


def test_the_scheduler_runs_the_stale_unit_and_sms_retry_jobs():
    jobs = {name: (function.__module__, function.__name__) for name, function, _ in _jobs()}
    assert jobs["units-stale"] == ("routing.units", "mark_stale_units")
    assert jobs["sms-retry"] == ("routing.notify", "retry_due")
