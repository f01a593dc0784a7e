"""Finding a call's recording and playing it with its transcript following the audio.

The audio itself comes from the recordings API (`GET /api/v1/recordings/ID/audio`, with range
requests for seeking), which writes the audit entry for every listen: a page view is not a
listen, and a listen through any other client must be audited too.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_console.pages import page
from agent_console.supervisor.common import day_bounds
from siaga112.models import Call, Recording
from siaga112.models.calls import CALL_STATES
from siaga112.web import db

bp = Blueprint("recordings", __name__, url_prefix="/recordings")

PAGE_SIZE = 100
PLAYABLE = ("ok", "truncated")  # a truncated file still holds what was recorded up to the fault


def number_pattern(text: str | None) -> str | None:
    """The digits to look for in E.164 callers: `0812-3456` finds +628123456 (0 is Indonesia's 62)."""
    digits = re.sub(r"\D", "", text or "")
    if not digits:
        return None
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


def transcript_terms(text: str | None) -> list[str]:
    """The words to look for in transcripts, lower-cased, with LIKE's wildcards taken literally."""
    words = re.findall(r"\w+", (text or "").casefold())[:8]
    return [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]


def search(session: Session, *, number: str | None = None, day=None, state: str | None = None,
           words: str | None = None, limit: int = PAGE_SIZE) -> list[tuple[Recording, Call]]:
    """Recordings of calls matching a number fragment, a local day (UTC bounds), a call state, and
    words of the transcript (every word, anywhere in it, any case)."""
    query = (select(Recording, Call).join(Call, Recording.call_id == Call.id)
             .order_by(Call.started_at.desc(), Recording.id.desc()).limit(limit))
    digits = number_pattern(number)
    if digits:
        query = query.where(Call.caller.like(f"%{digits}%"))
    if day:
        query = query.where(Call.started_at >= day[0], Call.started_at < day[1])
    if state in CALL_STATES:
        query = query.where(Call.state == state)
    for term in transcript_terms(words):
        query = query.where(func.lower(Recording.transcript).like(f"%{term}%", escape="\\"))
    return [(recording, call) for recording, call in session.execute(query)]


def transcript_words(recording: Recording) -> list[dict]:
    """The timed words, kept only when well formed: `{word, start, end, conf}` with start <= end."""
    words = []
    for item in recording.transcript_words or []:
        try:
            start, end = float(item["start"]), float(item["end"])
            word = str(item["word"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start <= end:
            words.append({"word": word, "start": start, "end": end, "conf": item.get("conf")})
    return words


@bp.get("")
@page("recordings:listen")
def index():
    """Search form and the matching recordings, newest call first."""
    args = request.args
    rows = search(db(), number=args.get("number"), day=day_bounds(args.get("date")), state=args.get("state"),
                  words=args.get("words"))
    return render_template("supervisor/recordings.html", rows=rows, states=CALL_STATES, args=args,
                           playable=PLAYABLE)


@bp.get("/<int:recording_id>")
@page("recordings:listen")
def play(recording_id: int):
    """The player: HTML5 audio on the recordings API, the transcript highlighted as it plays."""
    recording = db().get(Recording, recording_id) or abort(404)
    return render_template("supervisor/recording.html", recording=recording, call=recording.call,
                           words=transcript_words(recording), playable=PLAYABLE,
                           audio_url=f"/api/v1/recordings/{recording.id}/audio")
