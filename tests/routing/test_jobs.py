"""Periodic work is in the scheduler's table: silent units, SMS retries, the token book."""

from __future__ import annotations

from center.scheduler import jobs as _jobs


def test_the_scheduler_runs_the_stale_unit_and_sms_retry_jobs():
    jobs = {name: (function.__module__, function.__name__) for name, function, _ in _jobs()}
    assert jobs["units-stale"] == ("routing.units", "mark_stale_units")
    assert jobs["sms-retry"] == ("routing.notify", "retry_due")


def test_the_token_book_is_read_at_start_and_every_few_minutes():
    [(function, trigger)] = [(function, trigger) for name, function, trigger in _jobs() if name == "token-book"]
    assert (function.__module__, function.__name__) == ("siaga112.auth", "read_token_book")
    assert trigger["minutes"] <= 5 and trigger["next_run_time"] is not None
