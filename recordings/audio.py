"""Reading recordings as 16-bit mono PCM for speech recognition: WAV fast path, pydub otherwise."""

from __future__ import annotations

import logging
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Rates the recogniser takes as they are; anything else is resampled to the nearest of them.
NATIVE_RATES = (8000, 16000)
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# Asterisk writes a 44-byte header; other writers add chunks (LIST, fact) before "data".
MAX_HEADER_BYTES = 64 * 1024
# The loudest 20 ms of a recording below this level (about -50 dBFS) means nobody spoke.
SILENCE_RMS = 100.0


class AudioError(Exception):
    """A recording that cannot be read as audio; `reason` is a sentence for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WavFormat:
    """What a WAV header says: sample format and where the samples are."""

    format_tag: int
    channels: int
    rate: int
    sample_width: int
    data_offset: int
    # None while the writer has not filled the size in yet (Asterisk writes 0 until it closes).
    data_size: int | None

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.sample_width

    @property
    def is_native(self) -> bool:
        """True for the PCM the recogniser reads directly (16-bit mono at 8 or 16 kHz)."""
        return (
            self.format_tag == WAVE_FORMAT_PCM
            and self.channels == 1
            and self.sample_width == 2
            and self.rate in NATIVE_RATES
        )


@dataclass(frozen=True)
class Pcm:
    """Signed 16-bit little-endian mono samples at `rate` Hz."""

    data: bytes
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.data) / 2 / self.rate


def parse_wav_header(head: bytes) -> WavFormat | None:
    """Parse a RIFF/WAVE header from the file's first bytes.

    Returns None when `head` ends before the "data" chunk starts (a file still being
    written); raises AudioError when the bytes are not a WAV header at all.

    Asterisk's header while recording (sizes are zero until the file is closed):
        RIFF 00000000 WAVE fmt  10000000 0100 0100 401f0000 803e0000 0200 1000 data 00000000
    """
    if head[:4] != b"RIFF"[: len(head)] or head[8:12] != b"WAVE"[: max(0, len(head) - 8)]:
        raise AudioError("the recording is not a WAV file")
    if len(head) < 12:
        return None
    position = 12
    fmt = None
    while True:
        if len(head) < position + 8:
            if position + 8 > MAX_HEADER_BYTES:
                raise AudioError("the recording's WAV header is damaged")
            return None
        chunk_id = head[position:position + 4]
        (chunk_size,) = struct.unpack_from("<I", head, position + 4)
        body = position + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16:
                raise AudioError("the recording's WAV header is damaged")
            if len(head) < body + chunk_size:
                return None
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == WAVE_FORMAT_EXTENSIBLE and chunk_size >= 26:
                # The sub-format GUID starts with the plain format tag.
                (tag,) = struct.unpack_from("<H", head, body + 24)
            if channels < 1 or rate < 1 or bits < 1:
                raise AudioError("the recording's WAV header is damaged")
            fmt = (tag, channels, rate, (bits + 7) // 8)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError("the recording's WAV header is damaged")
            size = chunk_size if chunk_size not in (0, 0xFFFFFFFF) else None
            return WavFormat(*fmt, data_offset=body, data_size=size)
        elif not chunk_id.isascii() or chunk_size > MAX_HEADER_BYTES:
            raise AudioError("the recording's WAV header is damaged")
        position = body + chunk_size + (chunk_size & 1)


def load_pcm(path: str | os.PathLike) -> Pcm:
    """The recording's samples as 16-bit mono PCM at 8 or 16 kHz; AudioError if unreadable."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioError("the recording file was not found") from None
    except OSError:
        raise AudioError("the recording file cannot be read") from None
    if size == 0:
        raise AudioError("the recording file is empty")
    try:
        with path.open("rb") as stream:
            head = stream.read(MAX_HEADER_BYTES)
            fmt = _wav_format_or_none(head)
            if fmt is not None and fmt.is_native:
                stream.seek(fmt.data_offset)
                # A size the writer never filled in (or got wrong) means "up to the end of the file".
                available = size - fmt.data_offset
                wanted = available if fmt.data_size is None else min(fmt.data_size, available)
                data = stream.read(wanted)
                data = data[: len(data) - len(data) % fmt.frame_bytes]
                if not data:
                    raise AudioError("the recording holds no audio")
                return Pcm(data, fmt.rate)
    except OSError:
        raise AudioError("the recording file cannot be read") from None
    return _convert(path)


def _wav_format_or_none(head: bytes) -> WavFormat | None:
    try:
        return parse_wav_header(head)
    except AudioError:
        return None


def _convert(path: Path) -> Pcm:
    """Decode any format ffmpeg reads and bring it to mono 16-bit at a native rate."""
    audio_segment = _pydub_audio_segment()
    try:
        # An open file, not a name: given a name, pydub leaves the file open.
        with path.open("rb") as stream:
            segment = audio_segment.from_file(stream)
    except Exception as error:  # pydub raises many kinds for undecodable input
        log.info("cannot decode %s: %s", path, error)
        raise AudioError("the recording is not a readable audio file") from None
    if len(segment.raw_data) == 0:
        raise AudioError("the recording holds no audio")
    rate = 8000 if segment.frame_rate <= 8000 else 16000
    segment = segment.set_channels(1).set_sample_width(2).set_frame_rate(rate)
    return Pcm(segment.raw_data, rate)


def _pydub_audio_segment():
    # pydub imports the deprecated audioop module; the warning is pydub's, not ours.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*audioop.*")
        from pydub import AudioSegment
    return AudioSegment


def loudest_rms(data: bytes, rate: int, window_s: float = 0.02) -> float:
    """Root-mean-square level of the loudest `window_s` stretch of 16-bit PCM."""
    samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
    window = max(1, int(rate * window_s))
    usable = len(samples) - len(samples) % window
    if usable == 0:
        return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    frames = samples[:usable].astype(np.float64).reshape(-1, window)
    return float(np.sqrt((frames**2).mean(axis=1)).max())


def is_silent(data: bytes, rate: int) -> bool:
    """True when no 20 ms of the PCM rises above the silence level."""
    return loudest_rms(data, rate) < SILENCE_RMS
