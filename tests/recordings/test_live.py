"""Live transcription of a statement while it is being recorded, as Asterisk writes it."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from recordings.keywords import load_keywords, triage
from recordings.live import LiveTranscriber
from recordings.vosk_engine import transcribe_file
from tests.recordings.speech_samples import FIRE, LONG_STATEMENT, AsteriskWav, pcm_frames

pytestmark = pytest.mark.speech

KOREAN = load_keywords("ko").phrases()
# The statement's final transcript must be ready this soon after the recording ends.
FINAL_DELAY_LIMIT_S = 1.0


def record(writer: AsteriskWav, samples: bytes, transcriber: LiveTranscriber, piece_s: float = 0.5) -> None:
    """Append samples piece by piece, each time waiting until the transcriber has taken them in."""
    step = int(writer.rate * piece_s) * 2
    for offset in range(0, len(samples), step):
        writer.write(samples[offset:offset + step])
        assert transcriber.wait_for_audio(writer.seconds_written, timeout=15)


@pytest.mark.slow
def test_partial_text_arrives_while_the_caller_speaks_and_final_text_right_after_the_end(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(LONG_STATEMENT, pad_to=20.0))
    half = len(samples) // 4 * 2
    path = tmp_path / "statement.wav"
    writer = AsteriskWav(path, rate)
    partials: list[tuple[str, float]] = []
    first_partial = threading.Event()

    def on_partial(text: str) -> None:
        partials.append((text, writer.seconds_written))
        first_partial.set()

    transcriber = LiveTranscriber(vosk_model, path, on_partial=on_partial, phrases=KOREAN).start()
    record(writer, samples[:half], transcriber)
    assert first_partial.wait(timeout=15)
    record(writer, samples[half:], transcriber)
    writer.close()
    ended = time.monotonic()
    transcript = transcriber.finish(timeout=15)
    delay = time.monotonic() - ended

    assert partials[0][1] <= 10.0, "the first partial text came only after half the statement"
    assert partials[0][0]
    assert transcript.status == "done"
    assert transcript.duration_s == pytest.approx(20.0, abs=0.01)
    assert transcript.words and transcript.words[-1].end <= 20.0
    assert delay < FINAL_DELAY_LIMIT_S
    assert triage(transcript.text, transcript.spotted, "ko")[0] == "fire"


def test_live_transcript_has_the_words_of_the_finished_file(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(FIRE))
    path = tmp_path / "statement.wav"
    writer = AsteriskWav(path, rate)
    transcriber = LiveTranscriber(vosk_model, path).start()
    record(writer, samples, transcriber, piece_s=0.2)
    writer.close()

    live = transcriber.finish(timeout=15)

    offline = transcribe_file(vosk_model, path)
    assert live.text == offline.text
    # Confidences depend a little on how the audio was cut into pieces; words and times do not.
    assert [(w.text, w.start, w.end) for w in live.words] == [(w.text, w.start, w.end) for w in offline.words]


def test_transcriber_started_before_asterisk_creates_the_file_waits_for_it(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(FIRE))
    path = tmp_path / "later.wav"
    transcriber = LiveTranscriber(vosk_model, path).start()
    writer = AsteriskWav(path, rate)
    record(writer, samples, transcriber)
    writer.close()

    assert transcriber.finish(timeout=15).status == "done"


def test_recording_that_never_started_fails_with_a_reason(vosk_model, tmp_path):
    transcript = LiveTranscriber(vosk_model, tmp_path / "never.wav").start().finish(timeout=15)

    assert (transcript.status, transcript.reason) == ("failed", "the recording file was not found")


def test_silent_live_recording_fails_as_silent(vosk_model, tmp_path):
    path = tmp_path / "silent.wav"
    writer = AsteriskWav(path)
    transcriber = LiveTranscriber(vosk_model, path).start()
    record(writer, bytes(8000 * 2 * 2), transcriber)
    writer.close()

    transcript = transcriber.finish(timeout=15)

    assert (transcript.status, transcript.reason) == ("failed", "the recording is silent")
    assert transcript.duration_s == pytest.approx(2.0)


def test_no_model_reports_unavailable_at_once(tmp_path):
    transcriber = LiveTranscriber(None, tmp_path / "statement.wav").start()

    assert transcriber.result.result(timeout=5).status == "unavailable"
    assert transcriber.finish(timeout=5).reason == "no speech model is configured"


def test_recording_in_another_format_is_transcribed_once_it_ends(vosk_model, say):
    path = say(FIRE, rate=44100, channels=2)

    transcript = LiveTranscriber(vosk_model, path, phrases=KOREAN).start().finish(timeout=15)

    assert transcript.status == "done"
    assert triage(transcript.text, transcript.spotted, "ko")[0] == "fire"


def test_failing_partial_listener_does_not_stop_transcription(vosk_model, say, tmp_path, caplog):
    samples, rate = pcm_frames(say(FIRE))
    path = tmp_path / "statement.wav"
    writer = AsteriskWav(path, rate)

    def broken_listener(text: str) -> None:
        raise RuntimeError("console push failed")

    transcriber = LiveTranscriber(vosk_model, path, on_partial=broken_listener).start()
    with caplog.at_level(logging.ERROR, logger="recordings.live"):
        record(writer, samples, transcriber)
        writer.close()
        transcript = transcriber.finish(timeout=15)

    assert transcript.status == "done"
    assert "partial transcript listener failed" in caplog.text


def test_recording_that_stops_growing_is_finished_without_being_told(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(FIRE))
    path = tmp_path / "statement.wav"
    writer = AsteriskWav(path, rate)
    transcriber = LiveTranscriber(vosk_model, path, idle_seconds=0.5).start()
    record(writer, samples, transcriber)
    writer.abandon()

    assert transcriber.result.result(timeout=15).status == "done"


def test_context_manager_takes_the_recording_as_ended_on_exit(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(FIRE))
    path = tmp_path / "statement.wav"
    writer = AsteriskWav(path, rate)
    with LiveTranscriber(vosk_model, path) as transcriber:
        record(writer, samples, transcriber)
        writer.close()

    assert transcriber.result.result(timeout=15).status == "done"


def test_wideband_16k_recording_is_followed_live_too(vosk_model, say, tmp_path):
    samples, rate = pcm_frames(say(FIRE, rate=16000))
    path = tmp_path / "statement.wav16"
    writer = AsteriskWav(path, rate)
    transcriber = LiveTranscriber(vosk_model, path, phrases=KOREAN).start()
    record(writer, samples, transcriber)
    writer.close()

    transcript = transcriber.finish(timeout=15)

    assert transcript.status == "done"
    assert transcript.duration_s == pytest.approx(len(samples) / 2 / 16000, abs=0.01)
    assert [spot.phrase for spot in transcript.spotted] == ["불이 났어요"]
