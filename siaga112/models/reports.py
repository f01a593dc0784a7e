"""Non-emergency reports (Open311 GeoReport v2 service requests) and how they were closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siaga112.db import Base, UTCDateTime, utcnow

SERVICE_REQUEST_STATES = ("open", "closed")
# How a closed report turned out: confirmed earns the reporter a point, false_report a strike.
REPORT_OUTCOMES = ("confirmed", "false_report", "unfounded")


class ServiceRequest(Base):
    """A citizen's non-emergency report: a fallen tree, a power cut, a pothole, routed to an agency."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_code: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    status_notes: Mapped[str | None] = mapped_column(Text)
    agency_responsible: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    media_url: Mapped[str | None] = mapped_column(String(500))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporters.id"), index=True)
    contact: Mapped[dict | None] = mapped_column(JSON)  # first/last name, email, device, account
    routing: Mapped[dict | None] = mapped_column(JSON)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
