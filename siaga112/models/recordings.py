"""Recordings of calls, their transcripts, and the queue of transcription work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from siaga112.db import Base, UTCDateTime, utcnow

RECORDING_KINDS = ("statement", "full")
# expected: the IVR asked Asterisk for it; ok: registered and verified; missing, empty,
# truncated: Asterisk never wrote it, or wrote it badly; damaged: a file no decoder reads;
# removed: retention took it.
RECORDING_STATES = ("expected", "ok", "missing", "empty", "truncated", "damaged", "removed")
TRANSCRIPT_STATES = ("pending", "partial", "done", "failed", "unavailable")
# pending: waiting (or waiting to be retried after `lease_until`); running: claimed by `worker`
# until `lease_until`, after which another worker may take it; done; failed: gave up.
JOB_STATES = ("pending", "running", "done", "failed")


class Recording(Base):
    """One audio file Asterisk wrote for a call: the caller's statement or the whole call."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("call_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500))
    format: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="expected")
    state_reason: Mapped[str | None] = mapped_column(String(300))
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    browser_path: Mapped[str | None] = mapped_column(String(500))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transcript_status: Mapped[str] = mapped_column(String(16), default="pending")
    transcript_reason: Mapped[str | None] = mapped_column(String(300))
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_words: Mapped[list | None] = mapped_column(JSON)
    transcribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What triage read in the transcript: the keywords matched (what was heard, how) and the places named.
    transcript_keywords: Mapped[list | None] = mapped_column(JSON)
    transcript_places: Mapped[list | None] = mapped_column(JSON)

    call = relationship("Call", backref="recordings")


class TranscriptionJob(Base):
    """Background transcription work that survives a restart; one job per recording, never two."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    worker: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
