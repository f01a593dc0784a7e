"""Whether transcription can run, for /healthz and for each call's transcript status.

The speech model is one client of the runtime: loaded once per process on first use, the
same object for live statements, the background queue and the health check.
"""

from __future__ import annotations

from recordings.vosk_engine import SpeechUnavailable, load_model

SPEECH_MODEL = "vosk_model"  # the runtime client's name


def _load(settings):
    return load_model(settings.vosk_model)


def speech_model(runtime):
    """The loaded speech model; SpeechUnavailable (with a reason) when none is configured or loadable."""
    return runtime.client(SPEECH_MODEL, _load)


def transcription_health(runtime) -> dict:
    """`available` only when a model is configured and actually loads; otherwise why not."""
    configured = runtime.settings.vosk_model or None
    try:
        speech_model(runtime)
    except SpeechUnavailable as error:
        return {"status": "unavailable", "model": configured, "reason": error.reason}
    return {"status": "available", "model": configured}
