"""Incidents, their status history, unit assignments and the notifications sent about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from siaga112.db import Base, UTCDateTime, utcnow

INCIDENT_STATES = ("new", "dispatched", "on_scene", "resolved", "closed", "false_report")
NOTIFICATION_STATES = ("queued", "sent", "failed")


class Incident(Base):
    """Something that needs a response, made from calls, alarms or reports, routed by the engine."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    kecamatan: Mapped[str | None] = mapped_column(String(120))
    kelurahan: Mapped[str | None] = mapped_column(String(120))
    police_sector: Mapped[str | None] = mapped_column(String(120))
    routing: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    first_dispatch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    history: Mapped[list["IncidentEvent"]] = relationship(order_by="IncidentEvent.id", back_populates="incident")
    assignments: Mapped[list["IncidentUnit"]] = relationship(order_by="IncidentUnit.id", back_populates="incident")
    notifications: Mapped[list["Notification"]] = relationship(order_by="Notification.id", back_populates="incident")


class IncidentEvent(Base):
    """One step of an incident's status timeline, with who did it and why."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict | None] = mapped_column(JSON)

    incident = relationship("Incident", back_populates="history")


class IncidentUnit(Base):
    """A unit sent to an incident: when, by whom, and when it was released again."""

    __tablename__ = "incident_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    callsign: Mapped[str] = mapped_column(String(40))
    agency_code: Mapped[str] = mapped_column(String(40))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_by: Mapped[str | None] = mapped_column(String(120))
    distance_m: Mapped[float | None] = mapped_column(Float)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident = relationship("Incident", back_populates="assignments")


class Notification(Base):
    """One SMS to an agency or unit about an incident; failed sends are retried with backoff."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(120))  # "agency:damkar" or "unit:DAMKAR-1"
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    provider_id: Mapped[str | None] = mapped_column(String(64))  # Twilio's message SID
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident = relationship("Incident", back_populates="notifications")
