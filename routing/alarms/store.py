"""The one intake every alarm source uses: dedupe, locate, route, store, announce.

An SOS, a panel frame, a button press and a text to 112 each become an `AlarmIntake` where
they enter and are taken here, so every alarm gets the same treatment: a retransmission finds
the first alarm, an impossible position is kept as a warning instead of refusing the alarm,
a routing failure is written on the alarm instead of losing it, and consoles hear `alarm.new`
in the same transaction that stores it.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siaga112 import bulk, events
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, AlarmSite, Reporter
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)

# Priorities run from 1 (routine) to 9 (life in danger now); higher is handled first, as in
# the call queue. A panic, duress or hold-up and an app SOS are at the top.
PRIORITY_TOP = 9
PRIORITY_TEXT_TO_112 = 8
PRIORITY_PANEL_URGENT = 7
PRIORITY_PANEL_OTHER = 6
PRIORITY_BLOCKED_REPORTER = 6
PRIORITY_TECHNICAL = 4


@dataclass
class AlarmIntake:
    """One alarm as its source saw it, before it is stored.

    `category` is what routing is asked for (None: the alarm is not routed, e.g. a panel
    gone silent); `dedupe_key` makes a retransmission or a replayed webhook find the first alarm.
    """

    source: str
    kind: str
    priority: int
    category: str | None = None
    lat: object = None
    lon: object = None
    accuracy_m: float | None = None
    message: str | None = None
    site_id: int | None = None
    reporter_id: int | None = None
    dedupe_key: str | None = None
    raw: str | None = None
    flags: dict = field(default_factory=dict)
    posted_by_token_id: int | None = None
    received_at: datetime | None = None  # when it reached us, if not now (an alarm replayed from the journal)


def _locate(intake: AlarmIntake) -> tuple[float | None, float | None, dict]:
    """A valid position, or none with the reason: an alarm is never refused for its coordinates."""
    from routing.geo import validate_point

    flags = dict(intake.flags)
    if intake.lat is None and intake.lon is None:
        flags.setdefault("location_warning", "No position came with this alarm; ask for one.")
        return None, None, flags
    try:
        lat, lon = validate_point(intake.lat, intake.lon)
    except ValueError as error:
        flags["location_warning"] = str(error)
        flags["reported_location"] = {"lat": _jsonable(intake.lat), "lon": _jsonable(intake.lon)}
        return None, None, flags
    return lat, lon, flags


def _jsonable(value):
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        return str(value)[:60]  # a whole number beyond 64 bits is kept as the digits that came
    if isinstance(value, (int, str)) or value is None:
        return value
    if isinstance(value, float):
        return repr(value) if value != value or value in (float("inf"), float("-inf")) else value
    return repr(value)[:60]


def _route(runtime: Runtime, session: Session, category: str | None, lat, lon, priority: int,
           cache: dict) -> dict | None:
    """The routing decision, or the reason there is none; routing trouble never loses an alarm."""
    if category is None:
        return None
    key = (category, lat, lon, priority)
    if key in cache:
        return cache[key]
    from routing import service

    # On PostgreSQL a failed statement spoils the whole transaction; a savepoint keeps a
    # routing failure from taking the alarm's own insert down with it.
    guard = session.begin_nested() if session.get_bind().dialect.name == "postgresql" else nullcontext()
    try:
        with guard:
            decision = service.route(runtime, session, category, lat, lon, priority)
    except ValueError as error:  # an unknown category: said plainly, routed by hand
        log.warning("alarm category %r cannot be routed: %s", category, error)
        decision = {"category": category, "error": str(error)}
    except Exception:
        log.exception("routing failed for an alarm (%s); it is stored unrouted", category)
        decision = {"category": category, "error": "Routing failed; route this alarm by hand."}
    cache[key] = decision
    return decision


# Batches look many keys up at once; one expanding parameter spares SQLAlchemy a bind per value.
_BY_KEYS = select(Alarm.dedupe_key, Alarm.id).where(Alarm.dedupe_key.in_(bindparam("keys", expanding=True)))


class RouteMemo(dict):
    """Routing decisions kept for `ttl_s` seconds, keyed by (category, lat, lon, priority).

    A busy receiver stores many frames from the same sites each second; their routing cannot
    change meaningfully within a second or two, and the console re-routes when it makes the
    incident. Without a memo each batch routes afresh (a plain dict lasts one batch).
    """

    def __init__(self, ttl_s: float = 2.0) -> None:
        super().__init__()
        self.ttl_s = ttl_s
        self._born = time.monotonic()

    def __contains__(self, key) -> bool:
        if time.monotonic() - self._born > self.ttl_s:
            self.clear()
            self._born = time.monotonic()
        return super().__contains__(key)


@dataclass
class Taken:
    """What became of one intake: the alarm's id, whether it is new, and (when new) its console summary."""

    id: int
    created: bool
    summary: dict | None = None


def take_alarms(session: Session, runtime: Runtime, intakes: Iterable[AlarmIntake], *,
                routes: dict | None = None, with_summaries: bool = True, parties: dict | None = None) -> list[Taken]:
    """Store many alarms in the caller's transaction: one `Taken` per intake, in order.

    A dedupe key already stored (or repeated within `intakes`) gives back the first alarm with
    created=False. New alarms are inserted with one statement and announced with one more,
    which is what lets the DC-09 receiver store a whole group of frames per commit. The
    caller commits, and only then acknowledges the sources. `routes` may be a `RouteMemo` kept
    across batches; without `with_summaries` a Taken carries no console summary (it is not built).
    `parties` holds site summaries the caller has already read (`site_summaries`), keyed as
    `_parties` keys them.
    """
    intakes = list(intakes)
    keys = {i.dedupe_key for i in intakes if i.dedupe_key}
    known = _stored_keys(session, list(keys)) if keys else {}
    plan: list[tuple[int, bool]] = []  # (alarm id, False) for stored alarms, (row index, True) for new rows
    rows: list[dict] = []
    routes = {} if routes is None else routes
    pending: dict[str, int] = {}
    for intake in intakes:
        key = intake.dedupe_key
        if key and key in known:
            plan.append((known[key], False))
            continue
        if key and key in pending:
            plan.append((pending[key], True))
            continue
        lat, lon, flags = _locate(intake)
        rows.append(dict(
            source=intake.source, kind=intake.kind, category=intake.category, state="open",
            priority=intake.priority, dedupe_key=key, reporter_id=intake.reporter_id, site_id=intake.site_id,
            lat=lat, lon=lon, accuracy_m=intake.accuracy_m if lat is not None else None, message=intake.message,
            flags=flags or None, raw=intake.raw, received_at=intake.received_at or utcnow(), posted_by_token_id=intake.posted_by_token_id,
            routing=_route(runtime, session, intake.category, lat, lon, intake.priority, routes),
        ))
        if key:
            pending[key] = len(rows) - 1
        plan.append((len(rows) - 1, True))
    summaries: list[dict] = []
    if rows:
        ids = _insert(session, rows)
        parties = _parties(session, rows, dict(parties or {}))
        for row, alarm_id in zip(rows, ids):
            row["id"] = alarm_id
        events.publish_many(session, [("alarm.new", list_entry(row, parties), None) for row in rows])
        summaries = [alarm_json(session, row, parties) if with_summaries else {"id": row["id"]} for row in rows]
    taken = []
    first_use: set[int] = set()
    for ref, is_row in plan:
        if not is_row:
            taken.append(Taken(ref, False))
        elif ref in first_use:  # the same key twice in one batch: the second is a repeat
            taken.append(Taken(summaries[ref]["id"], False))
        else:
            first_use.add(ref)
            taken.append(Taken(summaries[ref]["id"], True, summaries[ref]))
    return taken


def _insert(session: Session, rows: list[dict]) -> list[int]:
    """Insert a batch of alarms with one statement (`siaga112.bulk`); their ids in order.

    Per-object ORM bookkeeping would cost more than the fsync group commit shares out.
    """
    return bulk.insert_rows(session, Alarm.__table__, rows)


def _stored_keys(session: Session, keys: list[str]) -> dict[str, int]:
    """The ids of the alarms already stored under any of these dedupe keys."""
    if session.get_bind().dialect.name == "postgresql":
        # Planned afresh each time: a plan prepared while the table was nearly empty (a new
        # deployment) can stay a sequential scan that grows with every alarm stored.
        return dict(bulk.execute(session, "SELECT dedupe_key, id FROM alarms WHERE dedupe_key = ANY(%b)", (keys,),
                                 prepare=False))
    return dict(session.execute(_BY_KEYS, {"keys": keys}).all())


def _parties(session: Session, rows: list[dict], parties: dict) -> dict:
    """Summaries of the sites and reporters of a batch (those not in `parties` yet), one query each."""
    site_ids = {row["site_id"] for row in rows if row["site_id"] is not None and ("site", row["site_id"]) not in parties}
    if site_ids:
        query = select(*SITE_SUMMARY_COLUMNS).where(AlarmSite.id.in_(bindparam("ids", expanding=True)))
        for site in session.execute(query, {"ids": list(site_ids)}):
            parties[("site", site.id)] = site_summary(site)
    reporter_ids = {row["reporter_id"] for row in rows if row["reporter_id"] is not None}
    if reporter_ids:
        for reporter in session.scalars(select(Reporter).where(Reporter.id.in_(list(reporter_ids)))):
            parties[("reporter", reporter.id)] = _reporter_summary(reporter)
    return parties


# What a site summary holds, as columns to read: a row of them, as a dict, is the summary.
SITE_SUMMARY_COLUMNS = (AlarmSite.id, AlarmSite.name, AlarmSite.account, AlarmSite.device_id, AlarmSite.offline)


def site_summary(site) -> dict:
    """A site as the console's alarm list shows it (any object or row with these attributes)."""
    return {"id": site.id, "name": site.name, "account": site.account, "device_id": site.device_id,
            "offline": site.offline}


def _reporter_summary(reporter: Reporter) -> dict:
    return {"id": reporter.id, "phone": reporter.phone, "name": reporter.name, "points": reporter.points,
            "strikes": reporter.strikes, "blocked": reporter.blocked}


def take_alarm(session: Session, runtime: Runtime, intake: AlarmIntake) -> tuple[Alarm, bool]:
    """Store one alarm in the caller's transaction: (alarm, created)."""
    result = take_alarms(session, runtime, [intake])[0]
    return session.get(Alarm, result.id), result.created


def commit_alarm(session: Session, runtime: Runtime, intake: AlarmIntake) -> tuple[Alarm, bool]:
    """Store and commit one alarm; a concurrent twin with the same key yields the stored one."""
    alarm, created = take_alarm(session, runtime, intake)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if not intake.dedupe_key:
            raise
        existing = session.scalar(select(Alarm).where(Alarm.dedupe_key == intake.dedupe_key))
        if existing is None:
            raise
        return existing, False
    return alarm, created


def list_entry(row: dict, parties: dict) -> dict:
    """The `alarm.new` event: what the console's alarm list shows; routing and text come with the alarm."""
    entry = {name: row.get(name) for name in ("id", "source", "kind", "state", "priority")}
    entry["received_at"] = iso(row["received_at"])
    if row.get("site_id") is not None:
        entry["site"] = parties.get(("site", row["site_id"]))
    if row.get("reporter_id") is not None:
        entry["reporter"] = parties.get(("reporter", row["reporter_id"]))
    entry["location"] = {"lat": row["lat"], "lon": row["lon"]} if row.get("lat") is not None else None
    return entry


ALARM_FIELDS = ("id", "source", "kind", "state", "priority", "received_at", "site_id", "reporter_id", "lat", "lon",
                "accuracy_m", "routing", "incident_id", "category", "message", "flags", "acknowledged_at",
                "acknowledged_by", "closed_at", "closed_by", "note")


def alarm_json(session: Session, alarm: Alarm | dict, parties: dict | None = None) -> dict:
    """An alarm (a stored row, or the values just inserted) as the API and the console see it.

    `parties` caches site and reporter summaries across the alarms of one batch.
    """
    parties = {} if parties is None else parties
    values = alarm if isinstance(alarm, dict) else {name: getattr(alarm, name) for name in ALARM_FIELDS}
    get = values.get
    body = {
        "id": get("id"),
        "source": get("source"),
        "kind": get("kind"),
        "state": get("state"),
        "priority": get("priority"),
        "received_at": iso(get("received_at")),
    }
    site_id, reporter_id = get("site_id"), get("reporter_id")
    if site_id is not None:
        if ("site", site_id) not in parties:
            parties[("site", site_id)] = site_summary(session.get(AlarmSite, site_id))
        body["site"] = parties[("site", site_id)]
    if reporter_id is not None:
        if ("reporter", reporter_id) not in parties:
            parties[("reporter", reporter_id)] = _reporter_summary(session.get(Reporter, reporter_id))
        body["reporter"] = parties[("reporter", reporter_id)]
    lat = get("lat")
    body.update(
        location={"lat": lat, "lon": get("lon"), "accuracy_m": get("accuracy_m")} if lat is not None else None,
        routing=get("routing"),
        incident_id=get("incident_id"),
        category=get("category"),
        message=get("message"),
        flags=get("flags") or {},
        acknowledged_at=iso(get("acknowledged_at")),
        acknowledged_by=get("acknowledged_by"),
        closed_at=iso(get("closed_at")),
        closed_by=get("closed_by"),
        note=get("note"),
    )
    return body


ALARM_TRANSITIONS = {"open": {"acknowledged", "closed"}, "acknowledged": {"closed"}, "closed": set()}


def change_state(session: Session, alarm: Alarm, state: str, *, actor: str, note: str | None = None) -> Alarm:
    """Acknowledge or close an alarm (never back to open), and tell the consoles."""
    if state != alarm.state:
        if state not in ALARM_TRANSITIONS.get(alarm.state, set()):
            raise ValueError(f"An alarm that is {alarm.state} cannot become {state}.")
        now = utcnow()
        if state in ("acknowledged", "closed") and alarm.acknowledged_at is None:
            alarm.acknowledged_at, alarm.acknowledged_by = now, actor
        if state == "closed":
            alarm.closed_at, alarm.closed_by = now, actor
        alarm.state = state
    if note:
        alarm.note = note.strip()
    session.flush()
    events.publish(session, "alarm.updated", alarm_json(session, alarm))
    return alarm
