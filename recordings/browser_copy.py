"""A browser-playable copy of each recording: Opus in Ogg (MP3 where ffmpeg lacks Opus), loudness evened out.

Telephone recordings are 8 kHz WAV, quiet or loud depending on the line; the copy is what the
supervisor's player streams. It lives under data_dir/browser, never beside the original in
the recordings folder, and the original is only ever read, so its SHA-256 keeps matching.

Each copy has one owner at a time: the work after a call and the scheduler's sweep may both
reach the same recording, and whoever takes its lock (`recording-N.lock`, an exclusive
`flock`) makes the copy while the other leaves it (`CopyBusy`); each writer's partial file has
its own name. An encode is a child ffmpeg that a stopping service kills (`stop`), leaving no
copy: the sweep makes it at the next start.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
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


class CopyBusy(CopyError):
    """Another worker is making this copy now; it is theirs."""


class CopyStopped(CopyError):
    """The service is stopping: the encode was ended, the copy is made at the next start."""


POLL_SECONDS = 0.1


@contextmanager
def owning(lock_path: Path):
    """Hold the copy's lock for the block, or raise CopyBusy when someone else holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CopyBusy("another worker is making this copy") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _encode(levelled, partial: Path, container: str, codec: str, parameters: list[str],
            stop: threading.Event | None) -> None:
    """Encode `levelled` (a pydub segment) into `partial` with a child ffmpeg that `stop` ends."""
    source = partial.with_name(partial.name + ".wav")
    try:
        with source.open("wb") as out:
            levelled.export(out, format="wav")
        with (partial.with_name(partial.name + ".log")).open("wb") as errors:
            process = subprocess.Popen(
                [shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "wav",
                 "-i", str(source), "-acodec", codec, *parameters, "-f", container, str(partial)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
            while True:
                try:
                    code = process.wait(POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if stop is not None and stop.is_set():
                        process.kill()
                        process.wait()
                        raise CopyStopped("the service stopped during the encode; it is made at the next start")
        if code != 0:
            detail = partial.with_name(partial.name + ".log").read_text(errors="replace").strip()[-300:]
            raise OSError(f"ffmpeg exited with {code}: {detail}")
    finally:
        source.unlink(missing_ok=True)
        partial.with_name(partial.name + ".log").unlink(missing_ok=True)


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


def make_copy(source: str | os.PathLike, destination_stem: str | os.PathLike, *,
              stop: threading.Event | None = None) -> BrowserCopy:
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
        partial = stem.with_suffix(f".{ext}.{os.getpid()}-{threading.get_ident()}.part")
        try:
            _encode(levelled, partial, container, codec, parameters, stop)
        except CopyStopped:
            partial.unlink(missing_ok=True)
            raise
        except Exception as error:  # ffmpeg without the codec, a full disk, and more
            log.warning("browser copy of %s as %s failed: %s", source, ext, error)
            partial.unlink(missing_ok=True)
            continue
        os.replace(partial, target)
        return BrowserCopy(target, ext, mimetype, round(gain, 2))
    raise CopyError("ffmpeg could not encode a browser copy")


def make_browser_copy(recording: Recording, data_path: str | os.PathLike, *,
                      stop: threading.Event | None = None) -> BrowserCopy:
    """The browser copy of a registered recording; the row gets its path, the original stays as it was.

    CopyBusy when another worker is making it now (theirs to finish), CopyStopped when `stop` ended it."""
    stem = copies_dir(data_path) / f"recording-{recording.id}"
    with owning(stem.with_suffix(".lock")):
        copy = make_copy(recording.path, stem, stop=stop)
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
