"""Recordings for supervisors: metadata and transcripts, audio with range requests, legal hold.

Only holders of `recordings:listen` (supervisors and admins) get anything here. Each listen is
written to the audit log. A browser fetches one audio file in several range requests as the
user seeks; a listen is counted once per request that starts at the beginning (no Range
header, or `Range: bytes=0-...`), so seeking does not add entries but every play does; HEAD
requests are not listens.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, g, jsonify, request, send_file
from sqlalchemy import select

from recordings.browser_copy import mimetype_of
from siaga112 import audit
from siaga112.auth import require
from siaga112.db import iso
from siaga112.errors import ApiError
from siaga112.models import Recording
from siaga112.web import db, json_body
from siaga112.web_input import legal_hold_request, record_id

bp = Blueprint("recordings_api", __name__, url_prefix="/api/v1")

LISTEN_SCOPE = "recordings:listen"
FROM_START = re.compile(r"^\s*bytes\s*=\s*0\s*-")


def recording_to_dict(recording: Recording, *, words: bool = False) -> dict:
    body = {
        "id": recording.id,
        "call_id": recording.call_id,
        "kind": recording.kind,
        "state": recording.state,
        "state_reason": recording.state_reason,
        "format": recording.format,
        "duration_s": recording.duration_s,
        "size_bytes": recording.size_bytes,
        "sha256": recording.sha256,
        "legal_hold": recording.legal_hold,
        "created_at": iso(recording.created_at),
        "registered_at": iso(recording.registered_at),
        "removed_at": iso(recording.removed_at),
        "browser_copy": recording.browser_path is not None,
        "audio_url": f"/api/v1/recordings/{recording.id}/audio" if _playable(recording) else None,
        "transcript": recording.transcript,
        "transcript_status": recording.transcript_status,
        "transcript_reason": recording.transcript_reason,
        "transcribed_at": iso(recording.transcribed_at),
    }
    if words:
        body["words"] = recording.transcript_words or []
    return body


def _playable(recording: Recording) -> bool:
    return recording.state in ("ok", "truncated")


def _get(recording_id: int) -> Recording:
    recording = db().get(Recording, recording_id)
    if recording is None:
        raise ApiError(404, "not_found", "There is no recording with this number.")
    return recording


def _actor() -> tuple[str, int | None]:
    principal = g.principal
    return principal.name, principal.user_id


@bp.get("/recordings")
@require(LISTEN_SCOPE)
def list_recordings():
    if not request.args.get("call_id"):
        raise ApiError(400, "call_id_required", "Give the call's number: ?call_id=ID.")
    call_id = record_id(request.args["call_id"], "call_id")
    rows = db().scalars(select(Recording).where(Recording.call_id == call_id).order_by(Recording.id))
    return jsonify({"recordings": [recording_to_dict(row) for row in rows]})


@bp.get("/recordings/<int:recording_id>")
@require(LISTEN_SCOPE)
def show_recording(recording_id: int):
    return jsonify(recording_to_dict(_get(recording_id), words=True))


@bp.get("/recordings/<int:recording_id>/audio")
@require(LISTEN_SCOPE)
def recording_audio(recording_id: int):
    recording = _get(recording_id)
    if recording.state == "removed":
        raise ApiError(410, "removed", "This recording was removed by the retention rules.")
    if not _playable(recording):
        raise ApiError(404, "no_audio", "This recording has no audio to play.")
    browser = Path(recording.browser_path) if recording.browser_path else None
    path = browser if browser is not None and browser.is_file() else Path(recording.path)
    if not path.is_file():
        raise ApiError(404, "no_audio", "The audio file of this recording cannot be found.")
    range_header = request.headers.get("Range")
    if request.method == "GET" and (range_header is None or FROM_START.match(range_header)):
        name, user_id = _actor()
        audit.record(db(), name, "recording.listen", f"recording:{recording.id}", actor_id=user_id,
                     ip=request.remote_addr,
                     detail={"call_id": recording.call_id, "kind": recording.kind, "range": range_header,
                             "copy": "browser" if path == browser else "original"})
        db().commit()
    response = send_file(path, mimetype=mimetype_of(path), conditional=True, etag=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.post("/recordings/<int:recording_id>/hold")
@require(LISTEN_SCOPE)
def recording_hold(recording_id: int):
    hold, reason = legal_hold_request(json_body(), "the recording")
    recording = _get(recording_id)
    if recording.state == "removed":
        raise ApiError(409, "removed", "This recording was removed already; there is nothing to hold.")
    name, user_id = _actor()
    changed = recording.legal_hold != hold
    recording.legal_hold = hold
    audit.record(db(), name, "recording.hold" if hold else "recording.release", f"recording:{recording.id}",
                 actor_id=user_id, ip=request.remote_addr,
                 detail={"call_id": recording.call_id, "reason": (reason or "")[:500] or None, "changed": changed})
    db().commit()
    return jsonify(recording_to_dict(recording))
