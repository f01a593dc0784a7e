"""Is the caller's statement silent? The RMS level of the WAV Asterisk wrote.

A real phone sends audio frames all the time, so a statement of nothing but line noise has a
tiny RMS (about 0.00002 of full scale measured on Asterisk 22) while speech is near 0.09.
The threshold sits far from both: a whisper is not "silent".
"""

from __future__ import annotations

import logging
import wave

import numpy as np

log = logging.getLogger(__name__)

SILENCE_RMS = 0.003  # of full scale
MAX_SECONDS_READ = 120


def wav_rms(path: str) -> float | None:
    """RMS of a 16-bit PCM WAV as a share of full scale; None if the file is missing or unreadable."""
    try:
        with wave.open(path, "rb") as wav:
            if wav.getsampwidth() != 2:
                log.info("statement %s is not 16-bit PCM; silence not measured", path)
                return None
            frames = wav.readframes(min(wav.getnframes(), wav.getframerate() * MAX_SECONDS_READ))
    except (OSError, EOFError, wave.Error) as error:
        log.info("statement %s could not be read (%s); silence not measured", path, error)
        return None
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples * samples)) / 32768.0)


def is_silent(rms: float | None) -> bool | None:
    """True for silence, False for sound, None when not measured."""
    return None if rms is None else rms < SILENCE_RMS
