"""Transcribing recorded statements with the real Korean Vosk model, and spotting keywords."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from recordings.keywords import load_keywords, spot_keywords, triage
from recordings.vosk_engine import SpeechUnavailable, load_model, transcribe_file
from tests.recordings.speech_samples import FIRE, HELP, LONG_STATEMENT, AsteriskWav, pcm_frames

pytestmark = pytest.mark.speech

KOREAN = load_keywords("ko").phrases()


@pytest.fixture(scope="module")
def long_statement(vosk_model, say):
    """A 19 s statement transcribed once, keywords spotted in the same pass."""
    return transcribe_file(vosk_model, say(LONG_STATEMENT), phrases=KOREAN)


@pytest.mark.slow
def test_statement_is_transcribed_with_word_times(long_statement):
    transcript = long_statement

    assert transcript.status == "done" and transcript.reason == ""
    assert transcript.duration_s == pytest.approx(18.9, abs=0.5)
    assert len(transcript.words) >= 10
    assert transcript.text == " ".join(word.text for word in transcript.words)
    for before, word in zip(transcript.words, transcript.words[1:]):
        assert before.start <= word.start
    for word in transcript.words:
        assert 0 <= word.start < word.end <= transcript.duration_s + 0.1
        assert 0 < word.conf <= 1


def test_transcript_without_word_times_still_has_text(vosk_model, say):
    transcript = transcribe_file(vosk_model, say(FIRE), words=False)

    assert transcript.status == "done"
    assert transcript.text and transcript.words == ()


def test_grammar_mode_spots_the_keyword_the_free_transcript_misses(vosk_model, say):
    path = say(FIRE)

    free = transcribe_file(vosk_model, path)
    spotted = spot_keywords(vosk_model, path, KOREAN)

    assert "불이 났어요" not in free.text
    assert [spot.phrase for spot in spotted] == ["불이 났어요"]
    assert 0 <= spotted[0].start < spotted[0].end <= free.duration_s
    assert triage(free.text, spotted, "ko") == ("fire", ["불이 났어요"])


def test_grammar_mode_tells_a_call_for_help_from_a_fire(vosk_model, say):
    spotted = spot_keywords(vosk_model, say(HELP), KOREAN)

    assert "불이 났어요" not in [spot.phrase for spot in spotted]
    assert triage("", spotted, "ko")[0] == "general"


@pytest.mark.slow
def test_keywords_are_spotted_in_the_same_pass_as_the_transcript(long_statement):
    transcript = long_statement

    assert transcript.status == "done"
    assert "불이 났어요" in [spot.phrase for spot in transcript.spotted]
    assert triage(transcript.text, transcript.spotted, "ko")[0] == "fire"


def test_phrases_with_words_the_model_does_not_know_are_left_to_the_transcript(vosk_model, say):
    # 도와주세요 is not one word of this model's vocabulary: grammar mode cannot look for it.
    assert spot_keywords(vosk_model, say(HELP), ["도와주세요"]) == []


def test_raw_samples_can_be_spotted(vosk_model, say):
    samples, rate = pcm_frames(say(FIRE))

    assert [spot.phrase for spot in spot_keywords(vosk_model, samples, KOREAN, rate=rate)] == ["불이 났어요"]


def test_recording_at_another_rate_in_stereo_is_converted_and_transcribed(vosk_model, say):
    transcript = transcribe_file(vosk_model, say(FIRE, rate=44100, channels=2), phrases=KOREAN)

    assert transcript.status == "done"
    assert transcript.duration_s == pytest.approx(1.55, abs=0.1)
    assert triage(transcript.text, transcript.spotted, "ko")[0] == "fire"


def test_recording_asterisk_left_unclosed_is_still_transcribed(vosk_model, say, tmp_path):
    samples, _ = pcm_frames(say(FIRE))
    writer = AsteriskWav(tmp_path / "crashed.wav")
    writer.write(samples)
    writer.abandon()

    transcript = transcribe_file(vosk_model, tmp_path / "crashed.wav")

    assert transcript.status == "done"
    assert transcript.duration_s == pytest.approx(len(samples) / 16000, abs=0.01)


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "the recording file was not found"),
        (b"", "the recording file is empty"),
        (b"\x00\xff\x13garbage" * 500, "the recording is not a readable audio file"),
        ("silence", "the recording is silent"),
        ("header", "the recording holds no audio"),
    ],
    ids=["missing", "empty", "corrupt", "silent", "header-only"],
)
def test_bad_recording_fails_with_a_reason_people_can_read(vosk_model, tmp_path, content, reason):
    path = tmp_path / "statement.wav"
    if content in ("silence", "header"):
        writer = AsteriskWav(path)
        writer.write(bytes(8000 * 2 * 3) if content == "silence" else b"")
        writer.close()
    elif content is not None:
        path.write_bytes(content)

    transcript = transcribe_file(vosk_model, path, phrases=KOREAN)

    assert (transcript.status, transcript.reason) == ("failed", reason)
    assert transcript.text == "" and transcript.words == () and transcript.spotted == ()
    assert spot_keywords(vosk_model, path, KOREAN) == []


@pytest.mark.parametrize(
    "model, reason",
    [
        (None, "no speech model is configured"),
        ("", "no speech model is configured"),
        ("/nonexistent/vosk-model", "the speech model folder /nonexistent/vosk-model does not exist"),
    ],
)
def test_no_model_reports_transcription_unavailable(say, model, reason):
    transcript = transcribe_file(model, say(FIRE))

    assert (transcript.status, transcript.reason) == ("unavailable", reason)
    assert spot_keywords(model, say(FIRE), KOREAN) == []


def test_folder_that_is_not_a_model_reports_transcription_unavailable(say, tmp_path):
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a model")

    transcript = transcribe_file(tmp_path, say(FIRE))

    assert transcript.status == "unavailable"
    assert transcript.reason == f"the speech model in {tmp_path.resolve()} cannot be loaded"
    with pytest.raises(SpeechUnavailable):
        load_model(tmp_path)


def test_model_is_loaded_once_per_process_even_from_many_threads(model_path, vosk_model):
    with ThreadPoolExecutor(max_workers=4) as pool:
        models = list(pool.map(load_model, [model_path, str(model_path)] * 4))

    assert all(model is vosk_model for model in models)


def test_model_path_may_be_given_where_a_model_is_expected(model_path, say):
    assert transcribe_file(str(model_path), say(FIRE)).status == "done"


def test_transcript_converts_to_plain_data_for_storage(vosk_model, say):
    data = transcribe_file(vosk_model, say(FIRE), phrases=KOREAN).as_dict()

    assert set(data) == {"status", "text", "words", "reason", "duration_s", "spotted"}
    assert set(data["words"][0]) == {"text", "start", "end", "conf"}
    assert set(data["spotted"][0]) == {"phrase", "start", "end", "conf"}
