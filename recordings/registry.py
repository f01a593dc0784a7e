"""Registering a call's recordings when it ends: what is on disk, how long, its checksum.

The IVR leaves one `expected` row per file it asked Asterisk to write. When the call ends each
is looked at: a sound file becomes `ok` with its size, SHA-256, duration and format; a file
Asterisk never wrote, wrote empty, or left unfinished is marked `missing`, `empty`,
`truncated` or `damaged` with a reason people can read, never silently left out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from recordings.audio import MAX_HEADER_BYTES, AudioError, parse_wav_header
from siaga112.db import utcnow
from siaga112.models import Call, Recording

log = logging.getLogger(__name__)

# Files the IVR names after the call: call-<id>-full.wav (MixMonitor), call-<id>-statement.wav.
FILE_NAME = re.compile(r"^call-(?P<call_id>\d+)-(?P<kind>full|statement)\.(?P<ext>[A-Za-z0-9]+)$")
# Raw signed-linear formats Asterisk writes, by extension: sample rate of 16-bit mono samples.
RAW_RATES = {"sln": 8000, "slin": 8000, "raw": 8000, "sln16": 16000, "slin16": 16000}
# Rows still `expected` this long after their call ended were missed (the service was down).
SWEEP_AFTER = timedelta(seconds=30)
# States in which there are samples to play, copy and transcribe.
AUDIBLE_STATES = ("ok", "truncated")


@dataclass(frozen=True)
class FileFacts:
    """What a recording file turned out to be."""

    state: str
    reason: str | None = None
    format: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    duration_s: float | None = None


def sha256_of(path: str | os.PathLike) -> str:
    """The file's SHA-256, read in blocks (recordings can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inspect_file(path: str | os.PathLike) -> FileFacts:
    """Look at one recording file: state (ok, missing, empty, truncated, damaged) and its facts."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return FileFacts("missing", "Asterisk never wrote the recording file")
    except OSError:
        return FileFacts("missing", "the recording file cannot be read")
    if size == 0:
        return FileFacts("empty", "the recording file is empty", size_bytes=0, sha256=sha256_of(path))
    checksum = sha256_of(path)
    ext = path.suffix.lower().lstrip(".")
    if ext in RAW_RATES:
        return _raw_facts(size, checksum, ext)
    with path.open("rb") as stream:
        head = stream.read(MAX_HEADER_BYTES)
    if head[:4] == b"RIFF":
        return _wav_facts(head, size, checksum)
    return _probed_facts(path, size, checksum, ext)


def _raw_facts(size: int, checksum: str, ext: str) -> FileFacts:
    rate = RAW_RATES[ext]
    facts = dict(format=ext, size_bytes=size, sha256=checksum, duration_s=round(size // 2 / rate, 3))
    if size % 2:
        return FileFacts("truncated", "the recording ends in the middle of a sample", **facts)
    return FileFacts("ok", **facts)


def _wav_facts(head: bytes, size: int, checksum: str) -> FileFacts:
    base = dict(format="wav", size_bytes=size, sha256=checksum)
    try:
        fmt = parse_wav_header(head)
    except AudioError:
        return FileFacts("damaged", "the recording's WAV header is damaged", **base)
    if fmt is None:
        return FileFacts("truncated", "the recording ends inside its WAV header", **base)
    available = size - fmt.data_offset
    frame = fmt.frame_bytes
    if available < frame:
        return FileFacts("empty", "the recording holds no audio", duration_s=0.0, **base)
    if fmt.data_size is None:
        # Asterisk fills the sizes in when it closes the file: it stopped before that.
        seconds = round(available // frame / fmt.rate, 3)
        return FileFacts("truncated", "the recording was never closed: its WAV header has no length",
                         duration_s=seconds, **base)
    if fmt.data_size > available:
        seconds = round(available // frame / fmt.rate, 3)
        missing = fmt.data_size - available
        return FileFacts("truncated", f"the recording is {missing} bytes shorter than its header says",
                         duration_s=seconds, **base)
    return FileFacts("ok", duration_s=round(fmt.data_size // frame / fmt.rate, 3), **base)


def _probed_facts(path: Path, size: int, checksum: str, ext: str) -> FileFacts:
    """Any other format (gsm, mp3, ogg...): ffprobe says what it is and how long."""
    base = dict(size_bytes=size, sha256=checksum)
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=format_name,duration", "-of", "json", str(path)],
            capture_output=True, text=True, timeout=60, check=False)
        info = json.loads(result.stdout or "{}").get("format", {})
        duration = float(info["duration"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return FileFacts("damaged", "the recording is not a readable audio file", format=ext or None, **base)
    return FileFacts("ok", format=(ext or info.get("format_name", ""))[:16] or None,
                     duration_s=round(duration, 3), **base)


def apply_facts(recording: Recording, facts: FileFacts, *, now=None) -> None:
    """Write what the file turned out to be onto its row; a file that is not audio fails its transcript."""
    recording.state = facts.state
    recording.state_reason = facts.reason
    recording.format = facts.format or recording.format
    recording.size_bytes = facts.size_bytes
    recording.sha256 = facts.sha256
    recording.duration_s = facts.duration_s
    recording.registered_at = now or utcnow()
    if facts.state not in AUDIBLE_STATES and recording.transcript_status in ("pending", "partial"):
        recording.transcript_status = "failed"
        recording.transcript_reason = facts.reason


def _kind_and_call(path: Path) -> tuple[int, str] | None:
    match = FILE_NAME.match(path.name)
    return (int(match["call_id"]), match["kind"]) if match else None


def discover(session: Session, call_id: int, recordings_dir: str | os.PathLike) -> list[Recording]:
    """Rows for files of this call that lie in the recordings folder but have none yet.

    The IVR adds its rows when it queues the caller; a caller who hangs up early may reach
    call-ended first, and the files Asterisk wrote must still be found."""
    folder = Path(recordings_dir)
    known = {row.kind for row in session.scalars(select(Recording).where(Recording.call_id == call_id))}
    added = []
    for path in sorted(folder.glob(f"call-{call_id}-*")):
        found = _kind_and_call(path)
        if found is None or found[0] != call_id or found[1] in known:
            continue
        row = Recording(call_id=call_id, kind=found[1], path=str(path), format=path.suffix.lstrip(".").lower(),
                        state="expected", transcript_status="pending")
        session.add(row)
        known.add(found[1])
        added.append(row)
    session.flush()
    return added


def register_call(session: Session, call_id: int, *, recordings_dir: str | os.PathLike | None = None,
                  now=None) -> list[Recording]:
    """Register every recording of a call (safe to run again); returns the call's rows."""
    now = now or utcnow()
    if recordings_dir is not None:
        discover(session, call_id, recordings_dir)
    rows = list(session.scalars(select(Recording).where(Recording.call_id == call_id).order_by(Recording.id)))
    for row in rows:
        if row.state == "removed":
            continue
        facts = inspect_file(row.path)
        apply_facts(row, facts, now=now)
        if facts.state != "ok":
            log.warning("recording %s of call %s is %s: %s", row.kind, call_id, facts.state, facts.reason)
    session.flush()
    return rows


def unregistered_calls(session: Session, *, now=None, after: timedelta = SWEEP_AFTER) -> list[int]:
    """Ended calls that still have `expected` recordings (their end was missed, or came early)."""
    now = now or utcnow()
    query = (select(Recording.call_id).join(Call, Call.id == Recording.call_id)
             .where(Recording.state == "expected", Call.ended_at.is_not(None), Call.ended_at < now - after)
             .distinct())
    return list(session.scalars(query))


def ensure_recording(session: Session, call_id: int, kind: str, path: str, *, now=None) -> int:
    """The id of the call's recording of `kind`, adding an `expected` row if there is none yet.

    Both the IVR (when it queues the caller) and live transcription (when the statement
    starts) may come first; the unique (call_id, kind) keeps one row either way."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"call_id": call_id, "kind": kind, "path": path, "format": Path(path).suffix.lstrip(".").lower() or None,
              "state": "expected", "created_at": now or utcnow(), "transcript_status": "pending",
              "legal_hold": False}
    session.execute(insert(Recording).values(**values).on_conflict_do_nothing(index_elements=["call_id", "kind"]))
    return session.scalar(select(Recording.id).where(Recording.call_id == call_id, Recording.kind == kind))
