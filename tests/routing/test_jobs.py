"""Periodic work is in the scheduler's table: silent units, SMS retries, the token book."""

from __future__ import annotations

from center.scheduler import jobs as _jobs


def test_the_scheduler_runs_the_stale_unit_and_sms_retry_jobs():
    jobs = {name: (function.__module__, function.__name__) for name, function, _ in _jobs()}
    assert jobs["units-stale"] == ("routing.units", "mark_stale_units")
    assert jobs["sms-retry"] == ("routing.notify", "retry_due")


def test_the_token_and_button_books_are_read_at_start_and_every_few_minutes():
    jobs = {name: (function, trigger) for name, function, trigger in _jobs()}
    for name, where in (("token-book", ("siaga112.auth", "read_token_book")),
                        ("button-book", ("routing.alarms.buttons", "read_device_book"))):
        function, trigger = jobs[name]
        assert (function.__module__, function.__name__) == where
        assert trigger["minutes"] <= 5 and trigger["next_run_time"] is not None
