"""Which speech engine a centre runs, from its settings: Whisper by default, Vosk where configured.

`speech_engine` = "whisper" or "vosk"; empty means Vosk when `vosk_model` names a model (a
centre that had one keeps it) and Whisper otherwise, so a fresh install hears Indonesian with
the embedded whisper-base and no setting at all.
"""

from __future__ import annotations

import os

from recordings.speech import SpeechUnavailable

ENGINES = ("whisper", "vosk")


def engine_name(settings) -> str:
    """The engine the settings choose; ValueError-free: a wrong name is reported by `load_engine`."""
    chosen = (getattr(settings, "speech_engine", "") or "").strip().lower()
    if chosen:
        return chosen
    return "vosk" if (settings.vosk_model or "").strip() else "whisper"


def speech_language(settings) -> str:
    """The language spoken to the recogniser: `speech_language`, else the centre's `language`."""
    return (getattr(settings, "speech_language", "") or settings.language or "id").strip()


def whisper_spec(settings):
    from recordings.whisper_model import ModelSpec

    return ModelSpec(model=(settings.whisper_model or "").strip(), device=settings.speech_device or "cpu",
                     compute_type=settings.speech_compute_type or "int8", threads=settings.speech_threads)


def model_label(settings) -> str | None:
    """The model the settings name, in words, for /healthz (None: Vosk with none configured)."""
    name = engine_name(settings)
    if name == "whisper":
        return whisper_spec(settings).label
    return settings.vosk_model or None


def load_engine(settings):
    """The engine the settings name, its model loaded once per process; SpeechUnavailable with a reason."""
    name = engine_name(settings)
    if name == "whisper":
        from recordings.whisper_engine import whisper_engine

        return whisper_engine(whisper_spec(settings), settings.data_path, language=speech_language(settings),
                              beam_size=settings.speech_beam_size)
    if name == "vosk":
        from recordings.vosk_engine import vosk_engine

        return vosk_engine(settings.vosk_model)
    raise SpeechUnavailable(f"speech_engine {name!r} is not one of {', '.join(ENGINES)}")


def as_engine(model):
    """An engine from an engine, a loaded Vosk model, or a Vosk model folder (None: none configured)."""
    if hasattr(model, "stream") and hasattr(model, "transcribe_file"):
        return model
    from recordings.vosk_engine import VoskEngine, load_model

    if model is None or isinstance(model, (str, os.PathLike)):
        return VoskEngine(load_model(model), str(model))
    return VoskEngine(model)
