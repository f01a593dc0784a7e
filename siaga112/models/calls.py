"""112 calls, every location fix they receive, and AML messages waiting for their call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from siaga112.db import Base, UTCDateTime, utcnow

CALL_STATES = ("ivr", "queued", "answered", "completed", "abandoned")
SERVICE_CHOICES = {"1": "police", "2": "fire", "3": "medical", "4": "disaster"}
LOCATION_SOURCES = ("aml", "pidf-lo", "cell", "app", "manual", "link")


class Call(Base):
    """One 112 call, from the moment Asterisk answers it until it ends."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), index=True, unique=True)  # Asterisk's, one row a call
    channel: Mapped[str | None] = mapped_column(String(200))
    caller: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164, or None when withheld
    caller_raw: Mapped[str | None] = mapped_column(String(200))  # what the network sent, untrusted
    caller_name: Mapped[str | None] = mapped_column(String(200))  # untrusted text, shown escaped
    state: Mapped[str] = mapped_column(String(16), default="ivr", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    service_choice: Mapped[str | None] = mapped_column(String(16))
    category_hint: Mapped[str | None] = mapped_column(String(40))
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    silent_emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    prank_suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)
    ivr_step: Mapped[str | None] = mapped_column(String(40))  # the last IVR step reached
    ivr_error: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When Asterisk answered the 112 call (the dialplan's SIAGA_ANSWERED_AT): every answer time
    # counts from here (NENA-STA-020), not from the queue join. None for a call on record before
    # Asterisk told us (then started_at stands in).
    pbx_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agent_interface: Mapped[str | None] = mapped_column(String(200))
    confirmed_fix_id: Mapped[int | None] = mapped_column(ForeignKey("location_fixes.id", use_alter=True))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Where the caller says they are, in their words ("depan Masjid Jami'"), kept even when no
    # coordinates go with it: a landmark is often all a call-taker has in the first minute.
    landmark: Mapped[str | None] = mapped_column(String(300))

    agent = relationship("User", foreign_keys=[agent_id])
    fixes: Mapped[list["LocationFix"]] = relationship(
        back_populates="call", foreign_keys="LocationFix.call_id", order_by="LocationFix.id"
    )


class LocationFix(Base):
    """A position a call received from one source; none is ever thrown away.

    Which one the call shows is decided by `ivr.location.best_fix`: the confirmed one, else
    the most accurate of those received within 30 minutes of the newest.
    """

    __tablename__ = "location_fixes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict | None] = mapped_column(JSON)

    call = relationship("Call", back_populates="fixes", foreign_keys=[call_id])


class AmlMessage(Base):
    """An Advanced Mobile Location message, kept whether or not its call has arrived yet."""

    __tablename__ = "aml_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    positioning_method: Mapped[str | None] = mapped_column(String(16))
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw: Mapped[str] = mapped_column(Text)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    # Faults that leave the position sound (a wrong `ml`, an unknown version): kept, and shown.
    warnings: Mapped[list | None] = mapped_column(JSON)
