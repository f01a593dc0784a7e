"""A call as the API and the console show it: one function, so every view agrees.

The fields are exactly the contract's (`GET /api/v1/calls/ID`). `location` is the best current
fix by the rule in `ivr.location.best_fix`; every fix stays available through `fixes_to_list`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ivr.location import best_fix
from siaga112.db import iso
from siaga112.models import Call, LocationFix, Recording


def call_to_dict(session: Session, call: Call) -> dict:
    """One call as the contract shows it."""
    return calls_to_dicts(session, [call])[0]


def calls_to_dicts(session: Session, calls: list[Call]) -> list[dict]:
    """Many calls, with their fixes and statements read in two queries rather than two per call."""
    ids = [call.id for call in calls]
    fixes: dict[int, list[LocationFix]] = {i: [] for i in ids}
    statements: dict[int, Recording] = {}
    if ids:
        for fix in session.scalars(select(LocationFix).where(LocationFix.call_id.in_(ids))):
            fixes[fix.call_id].append(fix)
        for recording in session.scalars(select(Recording).where(Recording.call_id.in_(ids),
                                                                 Recording.kind == "statement")):
            statements[recording.call_id] = recording
    return [_one(call, fixes[call.id], statements.get(call.id)) for call in calls]


def load_calls_query():
    """The select for calls with what serialisation needs already joined (the agent)."""
    return select(Call).options(selectinload(Call.agent))


def fix_to_dict(fix: LocationFix | None) -> dict | None:
    if fix is None:
        return None
    return {"lat": fix.lat, "lon": fix.lon, "accuracy_m": fix.accuracy_m, "source": fix.source}


def fixes_to_list(session: Session, call_id: int) -> list[dict]:
    """Every fix a call received, oldest first, with when and how (for the console's map)."""
    rows = session.scalars(select(LocationFix).where(LocationFix.call_id == call_id).order_by(LocationFix.id))
    return [dict(fix_to_dict(fix), id=fix.id, observed_at=iso(fix.observed_at), received_at=iso(fix.received_at),
                 detail=fix.detail) for fix in rows]


def _one(call: Call, fixes: list[LocationFix], statement: Recording | None) -> dict:
    return {
        "id": call.id,
        "uniqueid": call.uniqueid,
        "caller": call.caller,
        "caller_name": call.caller_name,
        "state": call.state,
        "priority": call.priority,
        "service_choice": call.service_choice,
        "started_at": iso(call.started_at),
        "pbx_answered_at": iso(call.pbx_answered_at),
        "queued_at": iso(call.queued_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "answer_delay_s": _seconds(call.answered_at, call.pbx_answered_at or call.started_at),
        "queue_wait_s": _seconds(call.answered_at, call.queued_at),
        "agent": call.agent.username if call.agent is not None else None,
        "location": fix_to_dict(best_fix(fixes, call.confirmed_fix_id)),
        "statement": None if statement is None else {
            "recording_id": statement.id,
            "transcript": statement.transcript,
            "transcript_status": statement.transcript_status,
            # The words that gave the category hint (what was heard, how it matched) and the places named.
            "keywords": statement.transcript_keywords or [],
            "places": statement.transcript_places or [],
        },
        "category_hint": call.category_hint,
        "prank_suspect": call.prank_suspect,
        "incident_id": call.incident_id,
    }


def _seconds(later, earlier) -> float | None:
    """Seconds between two moments of a call, to the millisecond; None if either is unknown."""
    if later is None or earlier is None:
        return None
    return round(max(0.0, (later - earlier).total_seconds()), 3)
