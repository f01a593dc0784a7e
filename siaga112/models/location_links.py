"""Location links sent to a caller's phone, the evidence that comes back, and the video signalling.

A link is bound to exactly one call or one alarm. Only the SHA-256 of its token is stored (the
token itself is in the text message alone), and the phone that first accepts it is remembered
by the hash of a cookie it was given. Photos and recorded video are evidence: kept with their
checksums under the same retention, legal hold and audit as recordings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siaga112.db import Base, UTCDateTime, utcnow

LINK_CHANNELS = ("sms", "whatsapp", "reply")  # reply: inside the TwiML answer to a text to 112
SEND_STATES = ("queued", "sent", "failed")
MEDIA_KINDS = ("photo", "video")
# receiving: a video still being recorded; ok: stored and checksummed; removed: retention took it.
MEDIA_STATES = ("receiving", "ok", "removed")
SIGNAL_SENDERS = ("phone", "console")
SIGNAL_KINDS = ("request", "offer", "answer", "hangup", "refused")


class LocationLink(Base):
    """One link sent to one phone for one call (or one alarm)."""

    __tablename__ = "location_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    via: Mapped[str] = mapped_column(String(16))
    to_number: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="id")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    send_state: Mapped[str] = mapped_column(String(16), default="queued")
    provider_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(300))
    device_hash: Mapped[str | None] = mapped_column(String(64))  # the phone that accepted it
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    positions: Mapped[int] = mapped_column(Integer, default=0)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    # Requests the phone may still make in the current minute (a small per-link budget).
    budget_minute: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_used: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkMedia(Base):
    """A photo or a recorded video that came through a link: evidence, like a recording."""

    __tablename__ = "link_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("location_links.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="ok")
    # The file as it arrived (photos keep their metadata here, shown to nobody) ...
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40))
    # ... and the copy people see: a photo re-encoded without its metadata.
    view_path: Mapped[str | None] = mapped_column(String(500))
    view_sha256: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkSignal(Base):
    """One WebRTC signalling message between the phone and the console, read in id order by the other side."""

    __tablename__ = "link_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("location_links.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
