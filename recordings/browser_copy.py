"""A browser-playable copy of each recording: Opus in Ogg (MP3 where ffmpeg lacks Opus), loudness evened out.

Telephone recordings are 8 kHz WAV, quiet or loud depending on the line; the copy is what the
supervisor's player streams. It lives under data_dir/browser, never beside the original in
the recordings folder, and the original is only ever read, so its SHA-256 keeps matching.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import _pydub_audio_segment
from recordings.registry import sha256_of
from siaga112.models import Recording

log = logging.getLogger(__name__)

# Speech at an even level: the copy's average loudness, unless that would clip its peaks.
TARGET_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
# (container, codec, extension, mimetype, ffmpeg parameters), in order of preference.
FORMATS = (
    ("ogg", "libopus", "ogg", "audio/ogg", ["-b:a", "24k", "-ar", "16000", "-application", "voip"]),
    ("mp3", "libmp3lame", "mp3", "audio/mpeg", ["-b:a", "48k"]),
)
MIMETYPES = {"ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav"}


class CopyError(Exception):
    """The copy could not be made; `reason` is a sentence for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BrowserCopy:
    path: Path
    format: str
    mimetype: str
    gain_db: float


def copies_dir(data_path: str | os.PathLike) -> Path:
    """Where browser copies are kept: data_dir/browser (not the folder Asterisk writes into)."""
    return Path(data_path) / "browser"


def mimetype_of(path: str | os.PathLike) -> str:
    return MIMETYPES.get(Path(path).suffix.lower().lstrip("."), "application/octet-stream")


def normalising_gain(dbfs: float, max_dbfs: float) -> float:
    """The gain (dB) that brings the average level to TARGET_DBFS without pushing peaks past the ceiling."""
    if math.isinf(dbfs) or math.isinf(max_dbfs):
        return 0.0  # silence: nothing to bring up
    return min(TARGET_DBFS - dbfs, PEAK_CEILING_DBFS - max_dbfs)


def make_copy(source: str | os.PathLike, destination_stem: str | os.PathLike) -> BrowserCopy:
    """Write `destination_stem` + .ogg (or .mp3): the source decoded, levelled and re-encoded."""
    source = Path(source)
    stem = Path(destination_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    audio_segment = _pydub_audio_segment()
    try:
        with source.open("rb") as stream:
            segment = audio_segment.from_file(stream)
    except Exception as error:  # pydub raises many kinds for undecodable input
        log.info("no browser copy of %s: %s", source, error)
        raise CopyError("the recording is not a readable audio file") from None
    if len(segment) == 0:
        raise CopyError("the recording holds no audio")
    segment = segment.set_channels(1)
    gain = normalising_gain(segment.dBFS, segment.max_dBFS)
    levelled = segment.apply_gain(gain)
    for container, codec, ext, mimetype, parameters in FORMATS:
        target = stem.with_suffix("." + ext)
        partial = stem.with_suffix("." + ext + ".part")
        try:
            with partial.open("wb") as out:
                levelled.export(out, format=container, codec=codec, parameters=parameters)
        except Exception as error:  # pydub raises CouldntEncodeError, OSError and more
            log.warning("browser copy of %s as %s failed: %s", source, ext, error)
            partial.unlink(missing_ok=True)
            continue
        os.replace(partial, target)
        return BrowserCopy(target, ext, mimetype, round(gain, 2))
    raise CopyError("ffmpeg could not encode a browser copy")


def make_browser_copy(recording: Recording, data_path: str | os.PathLike) -> BrowserCopy:
    """The browser copy of a registered recording; the row gets its path, the original stays as it was."""
    stem = copies_dir(data_path) / f"recording-{recording.id}"
    copy = make_copy(recording.path, stem)
    if recording.browser_path and Path(recording.browser_path) != copy.path:
        Path(recording.browser_path).unlink(missing_ok=True)
    recording.browser_path = str(copy.path)
    return copy


def original_intact(recording: Recording) -> bool:
    """True when the original file still has the checksum it was registered with."""
    if not recording.sha256:
        return False
    try:
        return sha256_of(recording.path) == recording.sha256
    except OSError:
        return False
