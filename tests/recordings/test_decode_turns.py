"""Live transcriptions take turns on the cores: the waiting caller with nothing to read comes first."""

from __future__ import annotations

import os
import threading

from recordings.decode_turns import (ENDED, IN_CONVERSATION, SPEECH_NICENESS, WAITING_WITH_TEXT,
                                     WAITING_WITHOUT_TEXT, DecodeTurns)
from recordings.live import LiveTranscriber
from tests.recordings.speech_samples import AsteriskWav
from tests.support.waiting import wait_until


class Caller:
    """A transcription that wants one turn, with an urgency that may change while it waits."""

    def __init__(self, turns: DecodeTurns, name: str, tier: int, begun: float, served: list):
        self.name, self.tier, self.begun = name, tier, begun
        self.thread = threading.Thread(target=self._decode, args=(turns, served))

    def urgency(self):
        return self.tier, self.begun

    def _decode(self, turns, served):
        with turns.turn(self.urgency):
            served.append(self.name)


def queue_up(turns, callers):
    for caller in callers:
        before = turns.waiting
        caller.thread.start()
        wait_until(lambda: turns.waiting == before + 1)


def test_a_freed_core_goes_to_the_waiting_caller_with_no_text_yet_then_the_oldest():
    turns, served = DecodeTurns(slots=1), []
    with turns.turn(lambda: (WAITING_WITHOUT_TEXT, 0.0)):
        queue_up(turns, callers := [
            Caller(turns, "over", ENDED, 1.0, served),
            Caller(turns, "talking", IN_CONVERSATION, 2.0, served),
            Caller(turns, "waiting, text shown", WAITING_WITH_TEXT, 3.0, served),
            Caller(turns, "waiting since 5", WAITING_WITHOUT_TEXT, 5.0, served),
            Caller(turns, "waiting since 4", WAITING_WITHOUT_TEXT, 4.0, served),
        ])
    for caller in callers:
        caller.thread.join(5)

    assert served == ["waiting since 4", "waiting since 5", "waiting, text shown", "talking", "over"]


def test_a_caller_picked_up_while_waiting_for_a_turn_steps_back():
    turns, served = DecodeTurns(slots=1), []
    with turns.turn(lambda: (WAITING_WITHOUT_TEXT, 0.0)):
        queue_up(turns, callers := [Caller(turns, "first", WAITING_WITHOUT_TEXT, 1.0, served),
                                    Caller(turns, "second", WAITING_WITHOUT_TEXT, 2.0, served)])
        callers[0].tier = IN_CONVERSATION  # a call-taker answered "first" meanwhile
    for caller in callers:
        caller.thread.join(5)

    assert served == ["second", "first"]


def test_no_more_decodes_run_at_once_than_there_are_slots_and_none_is_dropped():
    turns, lock, running, most, done = DecodeTurns(slots=2), threading.Lock(), [0], [0], []

    def decode(n):
        with turns.turn(lambda: (n % 4, float(n))):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            threading.Event().wait(0.002)
            with lock:
                running[0] -= 1
                done.append(n)

    threads = [threading.Thread(target=decode, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(done) == list(range(40))
    assert most[0] == 2


def test_a_broken_urgency_goes_last_and_stops_nobody():
    turns, served = DecodeTurns(slots=1), []

    class Broken(Caller):
        def urgency(self):
            raise RuntimeError("no state")

    with turns.turn(lambda: (WAITING_WITHOUT_TEXT, 0.0)):
        queue_up(turns, callers := [Broken(turns, "broken", 0, 0.0, served),
                                    Caller(turns, "over", ENDED, 9.0, served)])
    for caller in callers:
        caller.thread.join(5)

    assert served == ["over", "broken"]


def test_live_transcription_runs_behind_the_pbx_on_the_cpu(tmp_path):
    seen = []

    class Engine:
        """Notes the CPU priority of the thread that decodes."""

        def stream(self, rate, phrases=None):
            return self

        def transcribe_file(self, path, words=True, phrases=()):
            raise AssertionError("a growing WAV is followed live")

        def feed(self, data):
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

        def text_so_far(self):
            return ""

        def finish(self):
            return "", [], ()

    path = tmp_path / "112-1-caller.wav16"
    writer = AsteriskWav(path, 16000)
    writer.write(b"\0\1" * 16000)
    writer.close()
    transcriber = LiveTranscriber(Engine(), path).start()
    transcriber.finish(timeout=10)

    assert seen and min(seen) >= SPEECH_NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < SPEECH_NICENESS  # the caller's thread is untouched
