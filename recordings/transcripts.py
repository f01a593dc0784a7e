"""Storing a transcript on its recording, and what a statement's keywords do to its call."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ivr.priority import HIGHEST
from recordings.keywords import triage_matches
from recordings.speech import Transcript
from siaga112 import events
from siaga112.db import utcnow
from siaga112.models import Call, LocationFix, Recording

log = logging.getLogger(__name__)

# Points a statement with emergency keywords adds to its call's priority (when turned on).
KEYWORD_BOOST = 2


def words_json(transcript: Transcript) -> list[dict]:
    """Timed words as the API and the player read them: {word, start, end, conf}."""
    return [{"word": w.text, "start": w.start, "end": w.end, "conf": w.conf} for w in transcript.words]


def statement_summary(recording_id: int, text: str | None, status: str, keywords: list | None = None,
                      places: list | None = None) -> dict:
    summary = {"recording_id": recording_id, "transcript": text, "transcript_status": status}
    if keywords is not None:
        summary["keywords"] = keywords
    if places is not None:
        summary["places"] = places
    return summary


def save_partial(session: Session, recording_id: int, call_id: int, text: str) -> bool:
    """Show the text heard so far; never over a final transcript that got there first."""
    changed = session.execute(
        update(Recording)
        .where(Recording.id == recording_id, Recording.transcript_status.in_(("pending", "partial")))
        .values(transcript=text, transcript_status="partial")
    ).rowcount
    if changed:
        summary = statement_summary(recording_id, text, "partial")
        events.publish(session, "call.updated", {"id": call_id, "statement": summary})
    return bool(changed)


def save_transcript(session: Session, recording: Recording, transcript: Transcript, *, now=None) -> None:
    """Put a final transcript (or why there is none) on its recording."""
    recording.transcript_status = transcript.status
    recording.transcript_reason = transcript.reason or None
    recording.transcript = transcript.text or None
    recording.transcript_words = words_json(transcript) if transcript.words else None
    recording.transcribed_at = now or utcnow()


def triage_statement(session: Session, call_id: int, transcript: Transcript,
                     language: str, *, recording: Recording | None = None,
                     runtime=None) -> tuple[str | None, list[str]]:
    """Read a caller's transcript: the call's category hint (a hint a person set stays), the
    words that gave it, and the places it names, offered as a `speech` location fix."""
    try:
        hint, matches = triage_matches(transcript.text, transcript.spotted, language)
    except ValueError as error:  # a broken keyword list must not lose the transcript
        log.error("keyword triage skipped: %s", error)
        hint, matches = None, []
    if hint:
        session.execute(update(Call).where(Call.id == call_id, Call.category_hint.is_(None)).values(category_hint=hint))
    if recording is not None:
        recording.transcript_keywords = [match.to_dict() for match in matches]
        if runtime is not None:
            recording.transcript_places = offer_spoken_place(runtime, session, call_id, transcript.text)
    return hint, list(dict.fromkeys(match.keyword for match in matches))


def offer_spoken_place(runtime, session: Session, call_id: int, text: str) -> list[dict]:
    """The places a transcript names; one the loaded names place is added to the call as a `speech` fix."""
    from recordings.places import place_statement, spoken_fix_detail

    named, geocoded = place_statement(runtime, session, text)
    places = [place.to_dict() for place in named]
    if geocoded is None:
        return places
    if places:
        places[0]["geocode"] = geocoded.to_dict()
    if geocoded.found:
        fix = LocationFix(call_id=call_id, source="speech", lat=geocoded.lat, lon=geocoded.lon,
                          accuracy_m=geocoded.accuracy_m, observed_at=utcnow(),
                          detail=spoken_fix_detail(named, geocoded))
        session.add(fix)
        session.flush()
        places[0]["fix_id"] = fix.id
    return places


def boost_priority(session: Session, call_id: int) -> str:
    """Raise a queued call's priority for its keywords: `raised`, `wait` (still in the IVR, which
    sets the priority when it queues the caller), or `skip` (answered or over)."""
    state = session.scalar(select(Call.state).where(Call.id == call_id))
    if state == "ivr":
        return "wait"
    if state != "queued":
        return "skip"
    changed = session.execute(
        update(Call).where(Call.id == call_id, Call.state == "queued")
        .values(priority=func.min(Call.priority + KEYWORD_BOOST, HIGHEST) if session.get_bind().dialect.name == "sqlite"
                else func.least(Call.priority + KEYWORD_BOOST, HIGHEST))
    ).rowcount
    if changed:
        priority = session.scalar(select(Call.priority).where(Call.id == call_id))
        events.publish(session, "call.updated", {"id": call_id, "priority": priority, "priority_reason": "keywords"})
    return "raised" if changed else "skip"
