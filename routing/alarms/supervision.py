"""Panel supervision: a site that stops reporting past its interval raises "panel offline".

A bank whose panel has gone silent cannot call for help, so the console must know. The
scheduled check raises one alarm per silence; the panel's next message (any frame, a NULL
poll or a button heartbeat) closes it and marks the site online again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from siaga112 import bulk
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, AlarmSite
from siaga112.runtime import Runtime
from routing.alarms.store import PRIORITY_TECHNICAL, SITE_SUMMARY_COLUMNS, AlarmIntake, change_state, take_alarm

log = logging.getLogger(__name__)

SUPERVISION_ACTOR = "supervision"


def silent_sites(session: Session, now: datetime, grace_s: int) -> list[AlarmSite]:
    """Supervised sites not heard from within their interval plus the grace, not yet flagged."""
    sites = session.scalars(select(AlarmSite).where(AlarmSite.supervision_interval_s.is_not(None),
                                                    AlarmSite.offline.is_(False))).all()
    return [site for site in sites
            if (site.last_seen_at or site.created_at) + timedelta(seconds=site.supervision_interval_s + grace_s) < now]


def raise_offline(session: Session, runtime: Runtime, now: datetime | None = None) -> list[Alarm]:
    """Raise "panel offline" for every silent site; the caller commits."""
    now = now or utcnow()
    raised = []
    for site in silent_sites(session, now, runtime.settings.panel_supervision_grace_seconds):
        since = site.last_seen_at or site.created_at
        alarm, _ = take_alarm(session, runtime, AlarmIntake(
            source="panel" if site.account else "button", kind="panel_offline", priority=PRIORITY_TECHNICAL,
            lat=site.lat, lon=site.lon, site_id=site.id, dedupe_key=f"offline:{site.id}:{iso(since)}",
            message=f"{site.name}: no report since {iso(since)} (expected every {site.supervision_interval_s} s).",
            flags={"last_seen_at": iso(since)},
        ))
        site.offline = True
        raised.append(alarm)
        log.warning("site %s (%s) is silent since %s: panel offline", site.id, site.name, iso(since))
    return raised


def check_panels(runtime: Runtime) -> None:
    """Scheduled job: raise "panel offline" for sites that stopped reporting."""
    with runtime.database.session() as session:
        raise_offline(session, runtime)


_SUMMARY_FIELDS = tuple(column.key for column in SITE_SUMMARY_COLUMNS)
_SEEN = (update(AlarmSite.__table__).where(AlarmSite.id.in_(bindparam("ids", expanding=True)))
         .values(last_seen_at=bindparam("now")).returning(*SITE_SUMMARY_COLUMNS))
_SEEN_PG = f"UPDATE alarm_sites SET last_seen_at = %b WHERE id = ANY(%b) RETURNING {', '.join(_SUMMARY_FIELDS)}"


def mark_seen(session: Session, site_ids: list[int], now: datetime) -> dict:
    """These sites reported at `now`: note it, bring back online those flagged offline, and
    give their summaries keyed as `take_alarms(parties=...)` takes them.

    One statement for the whole batch of a busy receiver, where reading the sites, noting
    the report and looking for offline ones used to be three.
    """
    if session.get_bind().dialect.name == "postgresql":
        summaries = [dict(zip(_SUMMARY_FIELDS, row)) for row in bulk.execute(session, _SEEN_PG, (now, site_ids))]
    else:
        summaries = [row._asdict() for row in session.execute(_SEEN, {"ids": site_ids, "now": now})]
    for summary in summaries:
        if summary["offline"]:
            clear_offline(session, session.get(AlarmSite, summary["id"]))
    return {("site", summary["id"]): summary for summary in summaries}


def clear_offline(session: Session, site: AlarmSite) -> None:
    """The site reported again: close its "panel offline" alarms and mark it online."""
    site.offline = False
    open_alarms = session.scalars(select(Alarm).where(Alarm.site_id == site.id, Alarm.kind == "panel_offline",
                                                      Alarm.state != "closed")).all()
    for alarm in open_alarms:
        change_state(session, alarm, "closed", actor=SUPERVISION_ACTOR,
                     note=f"The site reported again at {iso(utcnow())}.")
    log.info("site %s (%s) reports again", site.id, site.name)


def note_restore(session: Session, site_id: int, kind: str, description: str) -> None:
    """A panel restored an alarm condition: say so on the site's latest open alarm of that kind.

    The alarm stays open; only a person closes an alarm, because a restore can be forced.
    """
    alarm = session.scalar(select(Alarm).where(Alarm.site_id == site_id, Alarm.kind == kind,
                                               Alarm.state != "closed").order_by(Alarm.id.desc()).limit(1))
    if alarm is None:
        return
    flags = dict(alarm.flags or {})
    flags["panel_restored_at"] = iso(utcnow())
    flags["panel_restore"] = description
    alarm.flags = flags
    change_state(session, alarm, alarm.state, actor=SUPERVISION_ACTOR)
