"""A bounded database wait: the caller stops waiting at the bound, and nothing queues behind a hung call."""

from __future__ import annotations

import threading
import time

import pytest

from siaga112.bounded import TookTooLong, call_within


def test_the_result_and_the_error_of_work_done_in_time_come_back():
    assert call_within(lambda: 42, 1.0) == 42
    with pytest.raises(KeyError):
        call_within(lambda: {}["missing"], 1.0)


def test_a_hung_call_is_given_up_at_the_bound_and_the_next_call_does_not_wait_behind_it():
    hung = threading.Event()
    started = time.monotonic()
    with pytest.raises(TookTooLong):
        call_within(lambda: hung.wait(10), 0.2)
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    assert call_within(lambda: "next", 1.0) == "next"  # another worker: the hung one takes nothing more
    assert time.monotonic() - started < 0.5
    hung.set()


def test_work_given_up_on_still_finishes_once_and_is_not_run_again():
    runs = []
    release = threading.Event()

    def slow():
        release.wait(5)
        runs.append(1)

    with pytest.raises(TookTooLong):
        call_within(slow, 0.1)
    release.set()
    for _ in range(20):
        call_within(lambda: None, 1.0)
    deadline = time.monotonic() + 2
    while not runs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runs == [1]
