"""The live Whisper stream decodes each stretch of audio once: a provisional tail that the pause
confirms becomes the final text without a second decode."""

from __future__ import annotations

from recordings.speech import Word
from recordings.voice_activity import VadSettings
from recordings.whisper_engine import WhisperEngine, without_echo, without_loops
from tests.recordings.test_voice_activity import RATE, line


class CountingEngine(WhisperEngine):
    """The stream's logic with a stand-in for the model: each decode says which stretch it heard."""

    def __init__(self):
        super().__init__(model=None, vad=VadSettings())
        self.heard: list[tuple[float, float]] = []

    def decode(self, samples, rate, offset_s, *, context="", hotwords=None):
        span = (round(offset_s, 2), round(offset_s + len(samples) / 2 / rate, 2))
        self.heard.append(span)
        return f"[{span[0]}-{span[1]}]", (Word("x", span[0], span[1], 1.0),)


def test_a_confirmed_tail_is_not_decoded_again_and_partial_text_comes_before_the_end():
    engine = CountingEngine()
    stream = engine.stream(RATE)
    data = line(("pause", 0.5), ("speech", 4.5), ("pause", 1.0), ("speech", 4.5), ("pause", 1.0))
    shown = []
    for offset in range(0, len(data), 8000):
        stream.feed(data[offset:offset + 8000])
        shown.append(stream.text_so_far())

    text, words, _ = stream.finish()

    assert engine.heard == [(0.3, 5.2), (5.8, 10.7)]  # each utterance once: its tail became final
    assert text == "[0.3-5.2] [5.8-10.7]" and [w.start for w in words] == [0.3, 5.8]
    assert "[0.3-5.2]" in shown[12]  # on screen while the caller was still speaking the second


def test_a_tail_the_caller_talks_over_is_decoded_again_with_what_followed():
    engine = CountingEngine()
    stream = engine.stream(RATE)
    stream.feed(line(("pause", 0.5), ("speech", 2.0), ("pause", 0.4), ("speech", 2.5), ("pause", 2.0)))

    stream.finish()

    assert engine.heard == [(0.3, 2.72), (0.3, 5.6)]  # shown after the breath, then the whole utterance


def test_the_prompt_written_back_and_a_word_looping_are_dropped():
    hotwords = "kebakaran, kecelakaan, kdrt, maling, pingsan, banjir, tolong"
    assert without_echo("rumah kemasukan maling, tolong kebakaran, kecelakaan, maling di dalam", [], hotwords)[0] \
        == "rumah kemasukan maling, tolong di dalam"
    assert without_echo("tolong tolong tolong ada kecelakaan", [], hotwords)[0] == "tolong tolong tolong ada kecelakaan"
    assert without_loops("di dalam um, um, um, um, um, um", [])[0] == "di dalam um, um, um,"
