"""Whether transcription can run, for /healthz and for each call's transcript status.

The speech engine is one client of the runtime: its model loaded once per process on first
use, the same object for live statements, the background queue and the health check.
"""

from __future__ import annotations

from recordings.engines import as_engine, engine_name, load_engine, model_label
from recordings.speech import SpeechUnavailable

SPEECH_ENGINE = "speech_engine"  # the runtime client's name
SPEECH_MODEL = SPEECH_ENGINE  # the name it had when Vosk was the only engine


def speech_model(runtime):
    """The loaded speech engine; SpeechUnavailable (with a reason) when it cannot be had."""
    return as_engine(runtime.client(SPEECH_ENGINE, load_engine))


def transcription_health(runtime) -> dict:
    """`available` only when the engine's model actually loads; otherwise why not."""
    settings = runtime.settings
    configured = model_label(settings)
    try:
        speech_model(runtime)
    except SpeechUnavailable as error:
        return {"status": "unavailable", "engine": engine_name(settings), "model": configured, "reason": error.reason}
    return {"status": "available", "engine": engine_name(settings), "model": configured}
