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
        self.beams: list[int | None] = []

    def decode(self, samples, rate, offset_s, *, context="", hotwords=None, voiced_end_s=None, beam_size=None):
        span = (round(offset_s, 2), round(offset_s + len(samples) / 2 / rate, 2))
        self.heard.append(span)
        self.beams.append(beam_size)
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


def test_a_short_tail_the_caller_talks_over_is_decoded_again_with_what_followed():
    engine = CountingEngine()
    stream = engine.stream(RATE)
    stream.feed(line(("pause", 0.5), ("speech", 2.0), ("pause", 1.0), ("speech", 2.5), ("pause", 2.0)))

    stream.finish()

    assert engine.heard == [(0.3, 2.72), (0.3, 6.24)]  # shown after the pause, then the whole utterance


def test_a_breath_after_a_few_words_costs_no_decode_and_a_guess_mid_speech_is_the_cheap_search():
    engine = CountingEngine()
    stream = engine.stream(RATE)
    stream.feed(line(("pause", 0.5), ("speech", 2.0), ("pause", 0.4), ("speech", 7.0), ("pause", 2.0)))

    stream.finish()

    # No decode at the breath; one provisional guess once 8 s had been spoken, then the utterance.
    assert engine.heard == [(0.3, 8.3), (0.3, 10.08)]
    assert engine.beams == [1, None]  # the guess, never final, with beam 1; the final with the setting's


def test_a_whole_file_decodes_each_utterance_once_and_no_provisional_text():
    engine = CountingEngine()
    pcm = line(("pause", 0.5), ("speech", 2.0), ("pause", 1.0), ("speech", 2.5), ("pause", 0.4),
               ("speech", 5.5), ("pause", 2.0))
    stream = engine.stream(RATE, provisional=False)
    stream.feed(pcm)

    text, _words, _ = stream.finish()

    assert engine.heard == [(0.3, 6.24), (6.24, 12.1)] and text == "[0.3-6.24] [6.24-12.1]"


def test_the_prompt_written_back_and_a_word_looping_are_dropped():
    hotwords = "kebakaran, kecelakaan, kdrt, maling, pingsan, banjir, tolong"
    assert without_echo("rumah kemasukan maling, tolong kebakaran, kecelakaan, maling di dalam", [], hotwords)[0] \
        == "rumah kemasukan maling, tolong di dalam"
    assert without_echo("tolong tolong tolong ada kecelakaan", [], hotwords)[0] == "tolong tolong tolong ada kecelakaan"
    assert without_loops("di dalam um, um, um, um, um, um", [])[0] == "di dalam um, um, um,"


def timed(*words: tuple[str, float, float, float]) -> list[Word]:
    return [Word(text, start, end, conf) for text, start, end, conf in words]


def test_no_keyword_comes_from_words_written_on_past_the_caller_s_speech():
    from recordings.keywords import triage_matches
    from recordings.whisper_engine import without_run_on

    # Captured: a medical call's utterance (voice until 5.37 s) that whisper-base ran on into hotwords.
    medical = timed(("pingsan", 3.66, 4.18, 0.58), ("dan", 4.18, 4.44, 0.90), ("petak", 4.44, 4.90, 0.44),
                    ("dapat", 4.90, 5.18, 0.11), ("jalan", 5.18, 5.32, 0.01), ("rusak,", 5.32, 5.32, 0.15),
                    ("kecelakaan,", 5.32, 5.48, 0.05))
    # ... and a burglary's (voice until 6.49 s): "jalan" squeezed into no time, then "rumat".
    crime = timed(("di", 5.74, 5.94, 0.30), ("dalam", 5.94, 6.22, 0.44), ("jalan", 6.50, 6.50, 0.49),
                  ("rumat", 6.50, 6.72, 0.01))

    kept, dropped = without_run_on(medical, voiced_end_s=5.37)
    assert dropped and " ".join(w.text for w in kept) == "pingsan dan petak"
    assert triage_matches(" ".join(w.text for w in kept), lang="id")[0] == "medical"
    kept, _ = without_run_on(crime, voiced_end_s=6.49)
    assert [w.text for w in kept] == ["di", "dalam"]


def test_a_word_after_the_voice_stopped_is_dropped_even_when_the_model_believes_it():
    from recordings.whisper_engine import without_run_on

    heard = timed(("banjir", 0.2, 0.7, 0.12), ("besar", 0.7, 1.2, 0.9), ("kecelakaan", 1.45, 1.9, 0.8))

    kept, _ = without_run_on(heard, voiced_end_s=1.4)
    # The first word, barely believed, is the caller's: only the end is trimmed.
    assert [w.text for w in kept] == ["banjir", "besar"]


class CapturedModel:
    """Stands in for faster-whisper: gives back the segments it was given, as transcribe() does."""

    def __init__(self, segments):
        self.segments = segments

    def transcribe(self, audio, **options):
        return iter(self.segments), None


def segment(start, end, no_speech_prob, *words):
    from types import SimpleNamespace

    return SimpleNamespace(start=start, end=end, no_speech_prob=no_speech_prob,
                           text=" " + " ".join(w for w, *_ in words),
                           words=[SimpleNamespace(word=" " + w, start=s, end=e, probability=p) for w, s, e, p in words])


def test_a_segment_written_on_after_the_last_word_gives_no_keyword_even_where_its_words_look_heard():
    from recordings.keywords import triage_matches

    # Captured from the 20 s fire statement's last words ("anak-anak kecil di dalam"), 2.44 s from
    # 17.5 s, voice until 19.7 s: a second segment of hotwords and the utterance again.
    model = CapturedModel([
        segment(0.0, 2.22, 0.02, ("anak", 0.0, 0.54, 0.30), ("-anak", 0.54, 0.88, 0.90), ("kecil", 0.88, 1.42, 0.84),
                ("di", 1.42, 1.66, 0.59), ("talam", 1.66, 2.22, 0.34)),
        segment(2.22, 2.42, 0.86, ("kecelakaan,", 2.22, 2.42, 0.10), ("jalan", 2.42, 2.42, 0.02),
                ("rusak,", 2.42, 2.42, 0.23), ("tolong", 2.42, 2.42, 0.15), ("anak", 2.42, 2.42, 0.03),
                ("-anak", 2.42, 2.62, 0.37), ("kecil", 2.62, 2.72, 0.44), ("jalan", 2.72, 2.82, 0.47)),
    ])
    engine = WhisperEngine(model)

    text, words = engine.decode(bytes(int(2.44 * 8000) * 2), 8000, 17.5, hotwords="kecelakaan, jalan rusak",
                                voiced_end_s=19.7)

    assert text == "anak -anak kecil di talam" and words[-1].end == 19.72
    assert triage_matches(text, lang="id")[0] is None


def test_a_second_segment_the_model_heard_as_no_speech_is_dropped_without_knowing_where_the_voice_stopped():
    model = CapturedModel([
        segment(0.0, 7.0, 0.05, ("sekaran,", 5.86, 6.48, 0.68), ("juga", 6.52, 7.0, 0.34)),
        segment(7.0, 7.22, 0.87, ("kecelakaan,", 7.0, 7.22, 0.41), ("kebakaran", 7.22, 7.4, 0.5)),
    ])

    text, _words = WhisperEngine(model).decode(bytes(int(7.24 * 8000) * 2), 8000, 0.0)

    assert text == "sekaran, juga"
