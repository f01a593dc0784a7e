"""The outbox of console events: every process appends, every console reads in order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siaga112.db import Base, UTCDateTime, utcnow


class Event(Base):
    """One console event (`call.queued`, `alarm.new`, ...), numbered so a console can resume."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    # Only these users see it (a screen-pop is for one call-taker); None means everyone.
    audience: Mapped[str | None] = mapped_column(String(64))
