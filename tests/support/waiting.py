"""Waiting in tests for what a service does on its own threads: poll, never sleep a fixed time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 30.0, every: float = 0.05, what: str = "") -> T:
    """The first truthy value of `condition()`, asked every `every` seconds; an AssertionError
    naming `what` (or the condition) and its last value when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or condition} (last: {value!r})")
        time.sleep(every)
