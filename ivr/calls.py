"""The call record through its life: opened by the IVR, queued or abandoned, answered, ended.

Plain functions taking an explicit session, run by the FastAGI service in its writer thread
(see `ivr/store.py`). Inserts and updates use SQLAlchemy Core: a thousand calls a second leave
no room for per-row ORM bookkeeping. Each change and its console event share one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.location import CellId, Fix
from ivr.priority import BASE, HIGHEST, POINTS, PriorityFacts, queue_priority
from siaga112 import events
from siaga112.db import iso, utcnow
from siaga112.models import AmlMessage, Call, CellTower, LocationFix, Recording, Reporter, User
from siaga112.models.calls import SERVICE_CHOICES

log = logging.getLogger(__name__)

CALLS = Call.__table__
FIXES = LocationFix.__table__
AML = AmlMessage.__table__
RECORDINGS = Recording.__table__
# An AML message that arrived this long before its call is still that call's location
# (handsets send AML as the call is placed; networks deliver it before or during the IVR).
AML_WAIT = timedelta(minutes=30)
FINAL_STATES = ("completed", "abandoned")


@dataclass
class NewCall:
    """What the IVR knows of a call before it has a record."""

    uniqueid: str
    channel: str | None
    caller: str | None
    caller_raw: str | None
    caller_name: str | None
    ivr_step: str
    fixes: list[Fix] = field(default_factory=list)
    cell: CellId | None = None
    started_at: datetime | None = None  # when Asterisk handed over the call; None: now
    # When Asterisk answered the call (SIAGA_ANSWERED_AT), if the dialplan said; the call's
    # `started_at` and `pbx_answered_at`, where its answer time counts from.
    answered_at: datetime | None = None


@dataclass
class OpenedCall:
    """The new record's id, and what the database knew about its caller.

    `id` is None when the call could not be stored yet (it waits in the call journal)."""

    id: int | None
    repeat_count: int = 0
    prank_suspect: bool = False
    fix_count: int = 0


@dataclass
class IvrOutcome:
    """How the IVR left a call: queued (the usual end) or abandoned (the caller hung up)."""

    state: str
    ivr_step: str
    service_choice: str | None = None
    silent: bool = False
    silent_emergency: bool = False
    prank_suspect: bool = False
    repeat_count: int = 0
    ivr_error: str | None = None
    recordings: dict[str, str] = field(default_factory=dict)  # kind -> path Asterisk writes
    summary: dict = field(default_factory=dict)
    priority: int = BASE  # set by finish_ivr
    at: datetime | None = None  # when the IVR let the caller go; None: now


@dataclass
class OpenCall:
    """Create a call in state `ivr` with every fix known so far, and read what is known of its caller.

    A batch job: many calls are opened with one multi-row insert and one query per kind of
    lookup (earlier calls, reporters, waiting AML), whatever the number of calls.
    """

    new: NewCall
    repeat_window: timedelta

    @classmethod
    def run_batch(cls, session: Session, jobs: list["OpenCall"]) -> list[OpenedCall]:
        now = utcnow()
        callers = sorted({job.new.caller for job in jobs if job.new.caller})
        earlier: dict[str, int] = {}
        pranks: set[str] = set()
        waiting_aml: dict[str, list] = {}
        if callers:
            since = now - max(job.repeat_window for job in jobs)
            earlier = dict(session.execute(_EARLIER_CALLS, {"callers": callers, "since": since}).all())
            pranks = {row.phone for row in session.execute(_REPORTERS, {"phones": callers})
                      if row.blocked or row.strikes > 0}
            for row in session.execute(_WAITING_AML, {"callers": callers, "since": now - AML_WAIT}):
                waiting_aml.setdefault(row.caller, []).append(row)
        # One channel, one record: the intake, the IVR menu and the AMI listener all open the call
        # of the same uniqueid, often at the same moment. The insert skips a uniqueid already on
        # record (or being written by the other: PostgreSQL waits for that transaction, SQLite
        # for its write lock), and a call met that way is merged into instead (`_merge`).
        fresh = _insert_calls(session, [{
            "uniqueid": job.new.uniqueid[:64], "channel": (job.new.channel or "")[:200] or None,
            "caller": job.new.caller, "caller_raw": job.new.caller_raw, "caller_name": job.new.caller_name,
            "state": "ivr", "priority": BASE, "ivr_step": job.new.ivr_step,
            "started_at": job.new.answered_at or job.new.started_at or now, "pbx_answered_at": job.new.answered_at,
        } for job in jobs])
        missing = sorted({job.new.uniqueid[:64] for job in jobs} - set(fresh))
        known = dict(session.execute(_BY_UNIQUEID, {"uniqueids": missing}).all()) if missing else {}
        known.update(fresh)
        opened, fix_rows, aml_rows, merged = [], [], [], []
        seen_in_batch: dict[str, int] = {}
        for job in jobs:
            uniqueid = job.new.uniqueid[:64]
            caller = job.new.caller
            if uniqueid in fresh:
                call = OpenedCall(fresh.pop(uniqueid))  # the first job of a uniqueid made the row
            else:
                call = OpenedCall(known[uniqueid])
                # Its AML was taken when it was opened; what this writer knows is added to it.
                merged.append((job, call))
                if caller:
                    call.repeat_count = max(0, earlier.get(caller, 0) - 1)
                    call.prank_suspect = caller in pranks
                opened.append(call)
                continue
            fixes = list(job.new.fixes)
            if job.new.cell is not None:
                fixes.extend(_cell_fix(session, call.id, job.new.cell))
            if caller:
                call.repeat_count = earlier.get(caller, 0) + seen_in_batch.get(caller, 0)
                seen_in_batch[caller] = seen_in_batch.get(caller, 0) + 1
                call.prank_suspect = caller in pranks
                for aml in waiting_aml.pop(caller, []):  # the caller's first call in the batch takes them
                    fixes.append(Fix("aml", aml.lat, aml.lon, aml.accuracy_m, aml.observed_at,
                                     _aml_detail(aml.id, aml.positioning_method, aml.warnings)))
                    aml_rows.append({"b_id": aml.id, "b_call_id": call.id})
            fix_rows.extend(_fix_row(call.id, fix, now) for fix in fixes)
            call.fix_count = len(fixes)
            opened.append(call)
        if fix_rows:
            session.execute(insert(FIXES), fix_rows)
        if merged:
            fix_rows = _merge(session, merged, now)
            if fix_rows:
                session.execute(insert(FIXES), fix_rows)
        if aml_rows:
            session.execute(_ATTACH_AML, aml_rows)
        return opened


# The step the AMI listener notes on a call it opened itself: any step of the intake or the IVR
# menu says more about the call, and replaces it; it never replaces theirs.
LISTENER_STEP = "ami"


def _merge(session: Session, merged: list[tuple["OpenCall", OpenedCall]], now) -> list[dict]:
    """What a second writer of a call brings to the record already there; the fix rows to add.

    Fields the record lacks are filled (caller, name, channel, Asterisk's answer time, which is
    then where the call starts), the listener's step gives way to an IVR step, and fixes are
    added unless the call has that very position from that source already (a journal entry
    replayed after its own write went through). Nothing else changes: not the state, not the
    priority (`FinishIvr` raises that), so a call never goes backwards.
    """
    session.execute(_FILL_CALL, [{
        "b_id": call.id, "b_channel": (job.new.channel or "")[:200] or None, "b_caller": job.new.caller,
        "b_caller_raw": job.new.caller_raw, "b_caller_name": job.new.caller_name,
        "b_answered": job.new.answered_at,
        "b_step": job.new.ivr_step if job.new.ivr_step != LISTENER_STEP else None,
    } for job, call in merged])
    ids = sorted({call.id for _job, call in merged})
    have = {(row.call_id, row.source, row.lat, row.lon)
            for row in session.execute(_FIXES_OF, {"ids": ids})}
    rows = []
    for job, call in merged:
        fixes = list(job.new.fixes)
        if job.new.cell is not None:
            fixes.extend(_cell_fix(session, call.id, job.new.cell))
        for fix in fixes:
            if (call.id, fix.source, fix.lat, fix.lon) not in have:
                have.add((call.id, fix.source, fix.lat, fix.lon))
                rows.append(_fix_row(call.id, fix, now))
        call.fix_count = len(fixes)
    return rows


def _insert_calls(session: Session, rows: list[dict]) -> dict[str, int]:
    """Insert the calls whose uniqueid is not on record yet; uniqueid -> id of those inserted.

    One multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING: the database may return the rows in
    any order, so they are matched back by Asterisk's uniqueid (unique per channel); a uniqueid
    given twice, or already there, is simply not returned.
    """
    if not rows:
        return {}
    statement = _INSERT_NEW_CALLS["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    return {row.uniqueid: row.id for row in session.execute(statement, rows)}


def open_call(session: Session, new: NewCall, *, repeat_window: timedelta) -> OpenedCall:
    """Open one call (see OpenCall)."""
    return OpenCall(new, repeat_window).run_batch(session, [OpenCall(new, repeat_window)])[0]


def _cell_fix(session: Session, call_id: int, cell: CellId) -> list[Fix]:
    tower = session.execute(
        select(CellTower.lat, CellTower.lon, CellTower.range_m, CellTower.radio).where(
            CellTower.mcc == cell.mcc, CellTower.mnc == cell.mnc, CellTower.area == cell.area,
            CellTower.cell == cell.cell)).first()
    if tower is None:
        log.info("call %s: serving cell %s is not in the cell table", call_id, cell)
        return []
    return [Fix("cell", tower.lat, tower.lon, tower.range_m, detail={
        "radio": tower.radio, "mcc": cell.mcc, "mnc": cell.mnc, "area": cell.area, "cell": cell.cell})]


def _fix_row(call_id: int, fix: Fix, now) -> dict:
    return {"call_id": call_id, "source": fix.source, "lat": fix.lat, "lon": fix.lon, "accuracy_m": fix.accuracy_m,
            "observed_at": fix.observed_at, "received_at": now, "detail": fix.detail or None}


def add_fixes(session: Session, call_id: int, fixes: list[Fix], *, now=None) -> None:
    """Keep fixes for a call (none is ever replaced or thrown away)."""
    now = now or utcnow()
    session.execute(insert(FIXES), [_fix_row(call_id, fix, now) for fix in fixes])


@dataclass
class FinishIvr:
    """Store how the IVR left a call, with its priority, and tell the consoles: `call.queued`,
    or `call.ended` if the caller hung up. The result is the priority (QUEUE_PRIO).

    A batch job: one multi-row update, one insert of recordings and one of events per batch.
    """

    call_id: int
    outcome: IvrOutcome
    facts: PriorityFacts

    @classmethod
    def run_batch(cls, session: Session, jobs: list["FinishIvr"]) -> list[int]:
        now = utcnow()
        current = {row.id: row for row in session.execute(_STATES, {"ids": [job.call_id for job in jobs]})}
        in_ivr = {call_id for call_id, row in current.items() if row.state == "ivr"}
        unlocated = [job.call_id for job in jobs if not job.facts.known_location]
        if unlocated:
            # An AML message may have reached the call while the caller was in the IVR.
            located = set(session.execute(_LOCATED, {"ids": unlocated}).scalars())
            for job in jobs:
                job.facts.known_location = job.facts.known_location or job.call_id in located
        updates, merges, recordings, notices, priorities = [], [], [], [], []
        for job in jobs:
            outcome = job.outcome
            priority, reasons = queue_priority(job.facts)
            outcome.priority = priority
            priorities.append(priority)
            recordings.extend({"call_id": job.call_id, "kind": kind, "path": path, "format": "wav",
                               "state": "expected", "created_at": now, "transcript_status": "pending"}
                              for kind, path in outcome.recordings.items())
            if job.call_id not in in_ivr:
                row = current.get(job.call_id)
                if row is not None and row.state == "queued" and priority > row.priority:
                    notices.append(("call.updated", {"id": job.call_id, "priority": priority}, None))
                else:
                    priorities[-1] = row.priority if row is not None else priority
                # Never move a call backwards: another writer has it queued already (the AMI
                # listener, or the intake's twin), or `call-ended` closed it (Asterisk ends the AGI
                # at a hang-up and runs `h` at once). What this one knew is added: its IVR step,
                # what the caller chose or pressed, and, while the caller waits, its rating if that
                # is higher (it knew a position the other did not).
                merges.append({
                    "b_id": job.call_id, "b_priority": priority, "b_service_choice": outcome.service_choice,
                    "b_silent": outcome.silent, "b_silent_emergency": outcome.silent_emergency,
                    "b_ivr_step": outcome.ivr_step if outcome.ivr_step != LISTENER_STEP else None})
                continue
            queued = outcome.state == "queued"
            at = outcome.at or now
            updates.append({
                "b_id": job.call_id, "b_state": outcome.state, "b_priority": priority, "b_ivr_step": outcome.ivr_step,
                "b_service_choice": outcome.service_choice, "b_silent": outcome.silent,
                "b_silent_emergency": outcome.silent_emergency, "b_prank_suspect": outcome.prank_suspect,
                "b_repeat_count": outcome.repeat_count,
                "b_ivr_error": outcome.ivr_error[:300] if outcome.ivr_error else None,
                "b_queued_at": at if queued else None, "b_ended_at": None if queued else at,
            })
            summary = dict(outcome.summary, id=job.call_id, state=outcome.state, priority=priority,
                           priority_reasons=reasons, service_choice=outcome.service_choice,
                           prank_suspect=outcome.prank_suspect, silent_emergency=outcome.silent_emergency,
                           queued_at=iso(at) if queued else None, ended_at=None if queued else iso(at))
            notices.append(("call.queued" if queued else "call.ended", summary, None))
        if updates:
            session.execute(_FINISH_CALL, updates)
        if merges:
            session.execute(_MERGE_FINISH, merges)
        if recordings:
            session.execute(_recordings_insert(session), recordings)
        events.publish_many(session, notices, now=now)
        return priorities


def finish_ivr(session: Session, call_id: int, outcome: IvrOutcome, facts: PriorityFacts) -> int:
    """Finish one call's IVR (see FinishIvr)."""
    return FinishIvr.run_batch(session, [FinishIvr(call_id, outcome, facts)])[0]


@dataclass
class IntakeCall:
    """The queue-first intake of one call: open it (or find it by uniqueid), rate it and store it
    as `queued` in one transaction; the result is (call id, QUEUE_PRIO).

    Nothing was asked of the caller, so the priority rests on what the network and the database
    know: a position, earlier calls from the number, a prank record.
    """

    new: NewCall
    repeat_window: timedelta
    recordings: dict[str, str] = field(default_factory=dict)  # kind -> path Asterisk writes
    queued_at: datetime | None = None  # when the caller joined the queue (an event's, a journal entry's time); None: now

    @classmethod
    def run_batch(cls, session: Session, jobs: list["IntakeCall"]) -> list[tuple[int, int]]:
        opened = OpenCall.run_batch(session, [OpenCall(job.new, job.repeat_window) for job in jobs])
        finishes = []
        for job, call in zip(jobs, opened):
            facts = PriorityFacts(known_location=call.fix_count > 0, repeat_count=call.repeat_count,
                                  prank_suspect=call.prank_suspect)
            outcome = IvrOutcome(state="queued", ivr_step=job.new.ivr_step, prank_suspect=call.prank_suspect,
                                 repeat_count=call.repeat_count, recordings=job.recordings,
                                 at=job.queued_at, summary={"caller": job.new.caller, "caller_name": job.new.caller_name,
                                          "uniqueid": job.new.uniqueid, "silent": False,
                                          "pbx_answered_at": iso(job.new.answered_at)})
            finishes.append(FinishIvr(call.id, outcome, facts))
        priorities = FinishIvr.run_batch(session, finishes)
        return [(call.id, priority) for call, priority in zip(opened, priorities)]


def epoch_time(value: str | None) -> datetime | None:
    """An epoch-seconds text from the dialplan ("1795346546.123") as an aware UTC datetime; None if
    it is not one (an unset variable, or anything else: a channel variable is untrusted text)."""
    try:
        seconds = float((value or "").strip())
    except ValueError:
        return None
    if not 946684800 <= seconds <= 4102444800:  # 2000 to 2100: anything else is not a clock
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _recordings_insert(session: Session):
    # A row the recordings part made first (same call and kind) wins; ours is not needed then.
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(RECORDINGS).on_conflict_do_nothing(index_elements=["call_id", "kind"])


# Statements built once: building and caching a statement costs more than running it.
_EARLIER_CALLS = (select(CALLS.c.caller, func.count()).where(
    CALLS.c.caller.in_(bindparam("callers", expanding=True)), CALLS.c.started_at >= bindparam("since"))
    .group_by(CALLS.c.caller))
_REPORTERS = select(Reporter.phone, Reporter.strikes, Reporter.blocked).where(
    Reporter.phone.in_(bindparam("phones", expanding=True)))
_WAITING_AML = (select(AML.c.id, AML.c.caller, AML.c.lat, AML.c.lon, AML.c.accuracy_m, AML.c.observed_at,
                       AML.c.positioning_method, AML.c.warnings)
                .where(AML.c.caller.in_(bindparam("callers", expanding=True)), AML.c.call_id.is_(None),
                       AML.c.received_at >= bindparam("since")).order_by(AML.c.id))
_INSERT_NEW_CALLS = {name: (dialect.insert(CALLS).on_conflict_do_nothing(index_elements=["uniqueid"])
                            .returning(CALLS.c.id, CALLS.c.uniqueid))
                     for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_BY_UNIQUEID = select(CALLS.c.uniqueid, CALLS.c.id).where(CALLS.c.uniqueid.in_(bindparam("uniqueids", expanding=True)))
_FIXES_OF = (select(FIXES.c.call_id, FIXES.c.source, FIXES.c.lat, FIXES.c.lon)
             .where(FIXES.c.call_id.in_(bindparam("ids", expanding=True))))
_ANSWERED = bindparam("b_answered", type_=CALLS.c.pbx_answered_at.type)
_STEP = bindparam("b_step", type_=CALLS.c.ivr_step.type)
_FILL_CALL = update(CALLS).where(CALLS.c.id == bindparam("b_id")).values(
    channel=func.coalesce(CALLS.c.channel, bindparam("b_channel", type_=CALLS.c.channel.type)),
    caller=func.coalesce(CALLS.c.caller, bindparam("b_caller", type_=CALLS.c.caller.type)),
    caller_raw=func.coalesce(CALLS.c.caller_raw, bindparam("b_caller_raw", type_=CALLS.c.caller_raw.type)),
    caller_name=func.coalesce(CALLS.c.caller_name, bindparam("b_caller_name", type_=CALLS.c.caller_name.type)),
    pbx_answered_at=func.coalesce(CALLS.c.pbx_answered_at, _ANSWERED),
    started_at=case((CALLS.c.pbx_answered_at.is_(None) & _ANSWERED.is_not(None), _ANSWERED),
                    else_=CALLS.c.started_at),
    ivr_step=case(((CALLS.c.ivr_step.is_(None) | (CALLS.c.ivr_step == LISTENER_STEP))
                   & _STEP.is_not(None), _STEP), else_=CALLS.c.ivr_step))
_ATTACH_AML = update(AML).where(AML.c.id == bindparam("b_id")).values(call_id=bindparam("b_call_id"))
_LOCATED = select(FIXES.c.call_id).where(FIXES.c.call_id.in_(bindparam("ids", expanding=True))).distinct()
_FINISH_CALL = update(CALLS).where(CALLS.c.id == bindparam("b_id"), CALLS.c.state == "ivr").values(
    {name: bindparam(f"b_{name}") for name in (
        "state", "priority", "ivr_step", "service_choice", "silent", "silent_emergency", "prank_suspect",
        "repeat_count", "ivr_error", "queued_at", "ended_at")})
_MERGE_STEP = bindparam("b_ivr_step", type_=CALLS.c.ivr_step.type)
_MERGE_PRIORITY = bindparam("b_priority", type_=CALLS.c.priority.type)
_MERGE_FINISH = update(CALLS).where(CALLS.c.id == bindparam("b_id")).values(
    ivr_step=func.coalesce(_MERGE_STEP, CALLS.c.ivr_step),
    service_choice=func.coalesce(CALLS.c.service_choice,
                                 bindparam("b_service_choice", type_=CALLS.c.service_choice.type)),
    silent=CALLS.c.silent | bindparam("b_silent", type_=CALLS.c.silent.type),
    silent_emergency=CALLS.c.silent_emergency | bindparam("b_silent_emergency", type_=CALLS.c.silent_emergency.type),
    priority=case(((CALLS.c.state == "queued") & (CALLS.c.priority < _MERGE_PRIORITY), _MERGE_PRIORITY),
                  else_=CALLS.c.priority))
_STATES = select(CALLS.c.id, CALLS.c.state, CALLS.c.priority).where(CALLS.c.id.in_(bindparam("ids", expanding=True)))


def find_call_id(session: Session, *, call_id: str | None, uniqueid: str | None,
                 caller: str | None = None) -> int | None:
    """The call a hook belongs to: by SIAGA_CALL_ID, else by Asterisk's uniqueid, else the caller's live call."""
    if call_id and call_id.strip().isdigit():
        found = session.execute(select(CALLS.c.id).where(CALLS.c.id == int(call_id))).scalar()
        if found is not None:
            return found
    if uniqueid:
        found = session.execute(select(CALLS.c.id).where(CALLS.c.uniqueid == uniqueid)
                                .order_by(CALLS.c.id.desc()).limit(1)).scalar()
        if found is not None:
            return found
    if caller:
        return session.execute(select(CALLS.c.id).where(CALLS.c.caller == caller, CALLS.c.state.in_(("ivr", "queued")))
                               .order_by(CALLS.c.id.desc()).limit(1)).scalar()
    return None


def interface_variants(interface: str) -> list[str]:
    """The forms a queue member interface may be stored in: "Local/agent1@agents/n" is
    "Local/agent1@agents" (the /n only tells Asterisk not to optimise the Local channel away)."""
    raw = interface.strip()
    base = raw[:-2] if raw.lower().endswith("/n") else raw
    return list(dict.fromkeys([raw, base, base + "/n"]))


def answer_call(session: Session, call_id: int, interface: str | None, *, at: datetime | None = None) -> str | None:
    """Mark the call answered by the console user whose phone interface took it; return that username.

    `at` is when it was answered (an AMI event's time stamp, or an answer written later from the
    call journal), now by default. Told twice of the same answer (a listener that reconnected), it
    changes nothing the second time.
    """
    now = at or utcnow()
    agent = None
    if interface:
        agent = session.execute(select(User.id, User.username).where(
            User.phone_interface.in_(interface_variants(interface)))).first()
        if agent is None:
            log.warning("call %s answered on %r, which is no console user's phone interface", call_id, interface)
    current = session.execute(select(CALLS.c.state, CALLS.c.caller, CALLS.c.caller_name, CALLS.c.priority,
                                     CALLS.c.answered_at, CALLS.c.agent_interface)
                              .where(CALLS.c.id == call_id)).first()
    if current is None:
        return None
    if current.answered_at is not None and current.agent_interface == ((interface or "")[:200] or None):
        return agent.username if agent is not None else None
    values = {"agent_interface": (interface or "")[:200] or None}
    if current.state in ("ivr", "queued", "abandoned"):
        # An "abandoned" seen here was a hang-up the IVR misread: the agent has the caller now.
        values.update(state="answered", answered_at=now, ended_at=None)
    if agent is not None:
        values["agent_id"] = agent.id
        set_agent_state(session, agent.id, "on_call", now)
    session.execute(update(CALLS).where(CALLS.c.id == call_id).values(**values))
    summary = {"id": call_id, "state": values.get("state", current.state), "caller": current.caller,
               "caller_name": current.caller_name, "priority": current.priority,
               "answered_at": iso(now), "agent": agent.username if agent else None}
    if agent is not None:
        events.publish(session, "call.answered", summary, audience=agent.username)
    events.publish(session, "call.updated", summary)
    return agent.username if agent else None


def set_agent_state(session: Session, user_id: int, state: str, now, *, only_from: tuple[str, ...] | None = None) -> None:
    """A call-taker's state follows what their phone does: `on_call` when the queue connects them,
    `wrap_up` when the caller hangs up (until they press "ready"). The floor is told at once."""
    query = update(User).where(User.id == user_id)
    if only_from:
        query = query.where(User.status.in_(only_from))
    changed = session.execute(query.values(status=state, status_at=now)).rowcount
    if changed:
        username = session.execute(select(User.username).where(User.id == user_id)).scalar()
        events.publish(session, "agent.status", {"username": username, "status": state, "status_at": iso(now)})


def end_call(session: Session, call_id: int, *, at: datetime | None = None) -> str | None:
    """Close the call: `completed` if a call-taker answered it, else `abandoned`. Safe to run twice.

    `at` is when it ended (an AMI Hangup's time stamp, or the call journal's), now by default."""
    current = session.execute(select(CALLS.c.state, CALLS.c.answered_at, CALLS.c.ended_at, CALLS.c.agent_id)
                              .where(CALLS.c.id == call_id)).first()
    if current is None:
        return None
    if current.state in FINAL_STATES and current.ended_at is not None:
        return current.state  # already closed (by the IVR seeing the hang-up, or an earlier run)
    state = "completed" if current.answered_at is not None else "abandoned"
    now = at or utcnow()
    if current.agent_id is not None:
        set_agent_state(session, current.agent_id, "wrap_up", now, only_from=("on_call",))
    session.execute(update(CALLS).where(CALLS.c.id == call_id).values(
        state=state, ended_at=current.ended_at or now))
    events.publish(session, "call.ended", {"id": call_id, "state": state, "ended_at": iso(current.ended_at or now)})
    return state


LIVE_CALL_AGE = timedelta(hours=2)


def _aml_detail(aml_id: int, method: str | None, warnings: list | None) -> dict:
    """A fix's detail from its AML message; `warnings` (faults that left the position sound) only when any."""
    detail = {"aml_id": aml_id, "positioning_method": method}
    if warnings:
        detail["warnings"] = list(warnings)
    return detail


def store_aml(session: Session, report) -> int | None:
    """Keep an AML message and attach its fix to the caller's live call; return that call's id.

    With no live call yet, the message waits: `open_call` attaches it when the call arrives.
    A message without a location (pm=N) is matched but has no fix to keep.
    """
    now = utcnow()
    call_id = None
    if report.caller:
        call_id = session.execute(
            select(CALLS.c.id).where(CALLS.c.caller == report.caller, CALLS.c.state.in_(("ivr", "queued", "answered")),
                                     CALLS.c.started_at >= now - LIVE_CALL_AGE)
            .order_by(CALLS.c.id.desc()).limit(1)).scalar()
    if not report.has_location:
        return call_id
    aml_id = session.execute(insert(AML).values(
        caller=report.caller, lat=report.lat, lon=report.lon, accuracy_m=report.accuracy_m,
        positioning_method=report.positioning_method, observed_at=report.observed_at, received_at=now,
        raw=report.raw, call_id=call_id, warnings=report.warnings or None).returning(AML.c.id)).scalar_one()
    if call_id is not None:
        detail = {**_aml_detail(aml_id, report.positioning_method, report.warnings), "form": report.form}
        add_fixes(session, call_id, [Fix("aml", report.lat, report.lon, report.accuracy_m, report.observed_at,
                                         detail)], now=now)
        events.publish(session, "call.updated", {"id": call_id, "location_source": "aml"})
    return call_id


def press_keys(session: Session, call_id: int, keys: str) -> int:
    """Keys pressed while waiting: 55 is a silent emergency, a service name is the service choice.
    The priority gains the points of the table (ivr/priority.py) once; returns it."""
    row = session.execute(select(CALLS.c.priority, CALLS.c.silent_emergency, CALLS.c.service_choice)
                          .where(CALLS.c.id == call_id)).one()
    values: dict = {}
    points = 0
    if keys == "55" and not row.silent_emergency:
        values.update(silent=True, silent_emergency=True)
        points += POINTS["silent_emergency"]
    elif keys in SERVICE_CHOICES.values() and row.service_choice != keys:
        values["service_choice"] = keys
        if row.service_choice is None:
            points += POINTS["service_choice"]
    if not values:
        return row.priority
    priority = min(HIGHEST, row.priority + points)
    values["priority"] = priority
    session.execute(update(CALLS).where(CALLS.c.id == call_id).values(**values))
    payload = {"id": call_id, "priority": priority, "priority_reason": "silent_emergency" if keys == "55" else "service_choice"}
    payload.update({k: v for k, v in values.items() if k != "priority"})
    events.publish(session, "call.updated", payload)
    return priority
