"""Calls, recordings and WAV files for the recordings tests."""

from __future__ import annotations

import hashlib
import math
import struct
import time
import uuid
import wave
from datetime import timedelta
from pathlib import Path

from siaga112.db import utcnow
from siaga112.models import Call, Incident, Recording


def write_tone(path: Path, seconds: float, *, rate: int = 8000, amplitude: int = 6000) -> Path:
    """A closed 16-bit mono WAV of a voice-loud 440 Hz tone."""
    frames = int(rate * seconds)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * n / rate)))
                                 for n in range(frames)))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def add_call(database, *, state: str = "completed", ended_ago: timedelta | None = timedelta(minutes=5),
             incident_status: str | None = None, **values) -> int:
    """A call row (ended `ended_ago` ago), linked to a new incident of `incident_status` if given."""
    with database.session() as session:
        incident_id = None
        if incident_status is not None:
            incident = Incident(category="fire", status=incident_status)
            session.add(incident)
            session.flush()
            incident_id = incident.id
        now = utcnow()
        call = Call(uniqueid=f"1700000000.{uuid.uuid4().hex[:8]}", caller="+6281234567890", state=state,
                    ended_at=now - ended_ago if ended_ago is not None else None, incident_id=incident_id, **values)
        session.add(call)
        session.flush()
        return call.id


def add_recording(database, call_id: int, path: Path, *, kind: str = "full", age: timedelta = timedelta(0),
                  **values) -> int:
    """A recording row as the IVR leaves it (`expected`), created `age` ago."""
    with database.session() as session:
        values.setdefault("state", "expected")
        values.setdefault("transcript_status", "pending")
        recording = Recording(call_id=call_id, kind=kind, path=str(path), format="wav", created_at=utcnow() - age,
                              **values)
        session.add(recording)
        session.flush()
        return recording.id


def recording(database, recording_id: int) -> Recording:
    with database.session() as session:
        return session.get(Recording, recording_id)


def wait_until(condition, timeout: float = 30.0, interval: float = 0.02) -> bool:
    """Wait for `condition()` to hold, looking every `interval` seconds; False if `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
