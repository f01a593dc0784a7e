"""Floor statistics for supervisors, as plain functions over the database.

Each function takes a session and explicit bounds (aware UTC datetimes, start inclusive, end
exclusive) so it can be tested with rows built in the test and exact expected numbers.

How the answer-time figures are measured (NFPA 1225: 90% within 10 s; NENA-STA-020: 90% within
15 s, 95% within 20 s): a call's answer delay runs from the moment Asterisk answered the 112 call
(`pbx_answered_at`; `started_at` for a call on record before Asterisk said) to a call-taker
answering (`answered_at`), as NENA-STA-020 counts it: a greeting, an IVR menu or an intake in
front of the queue count against the floor. The time in the queue (`queued_at` to `answered_at`)
is shown beside it. The share is over calls answered that started in the period; a delay equal
to the threshold counts as within it. Abandoned calls count from the same answer moment.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siaga112.models import Alarm, Call, Incident, User

PERIODS = ("today", "24h", "7d")
ANSWER_THRESHOLDS = (10, 15, 20)
FLOOR_ROLES = ("calltaker", "dispatcher")


@dataclass(frozen=True)
class Period:
    """A named reporting period with its UTC bounds."""

    name: str
    start: datetime
    end: datetime


def period(name: str, now: datetime, tz: str = "Asia/Jakarta") -> Period:
    """`today` (since local midnight in the centre's time zone), `24h` or `7d`, ending now."""
    if name == "today":
        local = now.astimezone(ZoneInfo(tz))
        start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    elif name == "24h":
        start = now - timedelta(hours=24)
    elif name == "7d":
        start = now - timedelta(days=7)
    else:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    return Period(name, start, now)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def queue_now(session: Session, now: datetime) -> dict:
    """Calls waiting for a call-taker right now, and how long the longest has waited (seconds)."""
    waiting, oldest = session.execute(
        select(func.count(Call.id), func.min(Call.queued_at)).where(Call.state == "queued")).one()
    return {"waiting": waiting, "longest_wait_s": (now - oldest).total_seconds() if oldest else None,
            "oldest_queued_at": oldest}


def call_takers(session: Session) -> list[dict]:
    """Active call-takers and dispatchers with their state and the call they are on, if any."""
    users = session.scalars(select(User).where(User.role.in_(FLOOR_ROLES), User.active.is_(True))
                            .order_by(User.status, User.username)).all()
    live = {c.agent_id: c for c in session.scalars(select(Call).where(Call.state == "answered",
                                                                      Call.agent_id.is_not(None)))}
    return [{"id": u.id, "username": u.username, "name": u.display_name or u.username, "role": u.role,
             "status": u.status, "status_at": u.status_at, "phone": u.phone_interface,
             "call_id": live[u.id].id if u.id in live else None} for u in users]


def status_counts(takers: list[dict]) -> dict[str, int]:
    """How many people are in each state (available, on_call, break, offline)."""
    counts: dict[str, int] = {}
    for taker in takers:
        counts[taker["status"]] = counts.get(taker["status"], 0) + 1
    return counts


def answer_delays(session: Session, start: datetime, end: datetime) -> list[float]:
    """Seconds from Asterisk's answer of the call to a call-taker's answer, for calls of the period answered."""
    rows = session.execute(select(Call.pbx_answered_at, Call.started_at, Call.answered_at).where(
        Call.started_at >= start, Call.started_at < end, Call.answered_at.is_not(None)))
    return [(answered - (pbx or started)).total_seconds() for pbx, started, answered in rows]


def queue_waits(session: Session, start: datetime, end: datetime) -> list[float]:
    """Seconds from joining the queue to a call-taker's answer (the part of the delay spent waiting)."""
    rows = session.execute(select(Call.queued_at, Call.answered_at).where(
        Call.started_at >= start, Call.started_at < end, Call.answered_at.is_not(None), Call.queued_at.is_not(None)))
    return [max(0.0, (answered - queued).total_seconds()) for queued, answered in rows]


def abandon_delays(session: Session, start: datetime, end: datetime) -> list[float]:
    """Seconds from Asterisk's answer to the hang-up, for calls of the period that nobody answered."""
    rows = session.execute(select(Call.pbx_answered_at, Call.started_at, Call.ended_at).where(
        Call.started_at >= start, Call.started_at < end, Call.state == "abandoned", Call.ended_at.is_not(None)))
    return [max(0.0, (ended - (pbx or started)).total_seconds()) for pbx, started, ended in rows]


def answer_shares(delays: list[float], thresholds=ANSWER_THRESHOLDS, *, queue: list[float] | None = None,
                  abandoned: list[float] | None = None) -> dict:
    """For each threshold in seconds: how many answered within it (inclusive) and their share; the
    median and 95th percentile of the answer delay, of the time in the queue and of abandoning."""
    queue = queue or []
    abandoned = abandoned or []
    return {"answered": len(delays),
            "within": {t: sum(1 for d in delays if d <= t) for t in thresholds},
            "share": {t: _share(sum(1 for d in delays if d <= t), len(delays)) for t in thresholds},
            "p50_s": nearest_rank(delays, 0.5), "p95_s": nearest_rank(delays, 0.95),
            "queue_p50_s": nearest_rank(queue, 0.5), "queue_p95_s": nearest_rank(queue, 0.95),
            "abandoned_p50_s": nearest_rank(abandoned, 0.5)}


def call_shares(session: Session, start: datetime, end: datetime) -> dict:
    """Calls of the period and the shares abandoned, silent and suspected pranks."""
    rows = session.execute(select(Call.state, Call.silent, Call.prank_suspect).where(
        Call.started_at >= start, Call.started_at < end)).all()
    total = len(rows)
    abandoned = sum(1 for state, _s, _p in rows if state == "abandoned")
    silent = sum(1 for _st, s, _p in rows if s)
    prank = sum(1 for _st, _s, p in rows if p)
    return {"total": total, "abandoned": abandoned, "silent": silent, "prank": prank,
            "abandoned_share": _share(abandoned, total), "silent_share": _share(silent, total),
            "prank_share": _share(prank, total)}


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (no interpolation: a value that really occurred)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def answer_to_dispatch(session: Session, start: datetime, end: datetime) -> dict:
    """Seconds from the first answered call of an incident to its first unit dispatched.

    One figure per incident created in the period (several callers about one fire count once,
    from the earliest answer). An incident dispatched before any call was answered (an alarm
    first, a caller later) has no answer-to-dispatch time and is left out.
    """
    rows = session.execute(
        select(Incident.id, Incident.first_dispatch_at, func.min(Call.answered_at))
        .join(Call, Call.incident_id == Incident.id)
        .where(Incident.created_at >= start, Incident.created_at < end,
               Incident.first_dispatch_at.is_not(None), Call.answered_at.is_not(None))
        .group_by(Incident.id, Incident.first_dispatch_at))
    seconds = [(dispatched - answered).total_seconds() for _id, dispatched, answered in rows
               if dispatched >= answered]
    return {"count": len(seconds), "median_s": statistics.median(seconds) if seconds else None,
            "p90_s": nearest_rank(seconds, 0.9)}


def alarms_open(session: Session) -> dict:
    """Alarms not yet closed or acknowledged, in total and by source (sos, button, panel, sms)."""
    rows = session.execute(select(Alarm.source, func.count(Alarm.id)).where(Alarm.state == "open")
                           .group_by(Alarm.source)).all()
    by_source = dict(sorted(rows))
    return {"total": sum(by_source.values()), "by_source": by_source}


def incidents_by(session: Session, start: datetime, end: datetime, column: str) -> list[tuple[str | None, int]]:
    """Incidents created in the period counted by `category` or `kecamatan`, largest first."""
    if column not in ("category", "kecamatan"):
        raise ValueError("incidents can be counted by category or kecamatan")
    field = getattr(Incident, column)
    rows = session.execute(select(field, func.count(Incident.id))
                           .where(Incident.created_at >= start, Incident.created_at < end)
                           .group_by(field)).all()
    return sorted(((label, count) for label, count in rows), key=lambda r: (-r[1], r[0] or "\uffff"))


def floor(session: Session, span: Period, now: datetime) -> dict:
    """Everything the floor page shows, for one period."""
    takers = call_takers(session)
    return {
        "period": span,
        "queue": queue_now(session, now),
        "call_takers": takers,
        "status_counts": status_counts(takers),
        "answers": answer_shares(answer_delays(session, span.start, span.end),
                                 queue=queue_waits(session, span.start, span.end),
                                 abandoned=abandon_delays(session, span.start, span.end)),
        "calls": call_shares(session, span.start, span.end),
        "dispatch": answer_to_dispatch(session, span.start, span.end),
        "alarms": alarms_open(session),
        "by_category": incidents_by(session, span.start, span.end, "category"),
        "by_kecamatan": incidents_by(session, span.start, span.end, "kecamatan"),
    }
