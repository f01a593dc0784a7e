"""What every supervisor page shares: the centre's local time, dates from forms, and formatting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import request

from siaga112 import i18n
from siaga112.db import utcnow


def zone() -> ZoneInfo:
    return i18n.zone()


def now() -> datetime:
    return utcnow()


def local_time(value: datetime | None, fmt: str = i18n.DATETIME_FORMAT) -> str:
    """A stored UTC time as the centre's wall clock (WIB in Jakarta), in the console's one format."""
    return i18n.local_time(value, fmt)


def day_bounds(text: str | None) -> tuple[datetime, datetime] | None:
    """A local calendar day `YYYY-MM-DD` as UTC bounds; None when empty or not a date."""
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    start = datetime.combine(day, time.min, tzinfo=zone()).astimezone(timezone.utc)
    return start, start + timedelta(days=1)


def duration(seconds: float | None) -> str:
    """Seconds as `m:ss` (or `h:mm:ss`): the form wait times are read in on the floor."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def ami_message(error) -> str:
    """The telephony failure in the viewer's language when we have it, else the module's sentence."""
    key = f"sv.ami.{error.code}"
    return i18n.translate(key) if i18n.known(key) else str(error)


def client_ip() -> str | None:
    return request.remote_addr


def template_helpers() -> dict:
    return {"local_time": local_time, "duration": duration, "percent": percent}
