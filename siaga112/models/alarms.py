"""Alarms from every source (app SOS, IP buttons, alarm panels, SMS) and the sites that raise them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siaga112.db import Base, UTCDateTime, utcnow

ALARM_SOURCES = ("sos", "button", "panel", "sms")
ALARM_STATES = ("open", "acknowledged", "closed")


class Alarm(Base):
    """One alarm, stored before anything acknowledges it."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The routing category the alarm was routed as (an alarm kind is not always one).
    category: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A retransmitted frame or replayed webhook finds the first alarm through this key.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporters.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("alarm_sites.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[dict | None] = mapped_column(JSON)  # e.g. {"reporter_blocked": true}
    routing: Mapped[dict | None] = mapped_column(JSON)
    raw: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    # The machine token an alarm came with (the citizen app's): that token may read it back, and
    # only it; panels, buttons, SMS and console users leave it empty.
    posted_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)


class AlarmSite(Base):
    """A bank, gold shop or cooperative with a panic button: a DC-09 account and/or a webhook device."""

    __tablename__ = "alarm_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(16), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    aes_key: Mapped[str | None] = mapped_column(String(64))  # hex, for encrypted DC-09 accounts
    secret: Mapped[str | None] = mapped_column(String(200))  # HMAC secret of an IP button
    supervision_interval_s: Mapped[int | None] = mapped_column(Integer)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offline: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ButtonEvent(Base):
    """One signed webhook event of an IP button, kept so a replay gets the first answer back."""

    __tablename__ = "button_events"
    __table_args__ = (UniqueConstraint("site_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("alarm_sites.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    result: Mapped[dict] = mapped_column(JSON)


class AlarmMessage(Base):
    """A text exchanged with the person behind an alarm (text-to-112 in, console questions out)."""

    __tablename__ = "alarm_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in, out
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str | None] = mapped_column(String(16))  # out: sent, failed, queued
    provider_id: Mapped[str | None] = mapped_column(String(64))  # Twilio MessageSid
