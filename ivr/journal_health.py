"""Health of the call journal for /healthz and the floor: entries waiting, its disk, its write failures."""

from __future__ import annotations

from siaga112.journal import journal_health


def call_journal_health(runtime) -> dict:
    """`ok`; `warning` when calls wait to be written or its disk runs low; `failing` when it cannot be written."""
    from ivr.call_journal import runtime_journal

    return journal_health(runtime_journal(runtime), runtime.settings.disk_warning_free_percent)
