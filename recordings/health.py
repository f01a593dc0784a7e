"""Whether transcription can run, for /healthz and for each call's transcript status."""


def transcription_health(runtime) -> dict:
    model = runtime.settings.vosk_model
    return {"status": "configured" if model else "unavailable", "model": model or None}
