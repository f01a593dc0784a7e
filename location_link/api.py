"""The centre's side of location links: send one, follow it, ask for video, and the evidence it brought.

Sending needs `calls:write` (a call) or `alarms:write` (an alarm); following a link and seeing
its photos needs `calls:read`; recorded video, like a recording, needs `recordings:listen`, as
does a legal hold. Every send, view, hold and removal is in the audit log.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, g, jsonify, request, send_file

from location_link import evidence, links, signals
from location_link.links import link_json
from siaga112 import audit, events
from siaga112.auth import require
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.models import Alarm, Call, LinkMedia, LocationLink
from siaga112.web import db, json_body, runtime
from siaga112.web_input import is_record_id, legal_hold_request, record_id

bp = Blueprint("location_link_api", __name__, url_prefix="/api/v1")

VIDEO_TYPES = ("video/webm", "video/mp4")
VIDEO_CHUNK_MAX_BYTES = 8 * 1024 * 1024
LISTEN_SCOPE = "recordings:listen"


def _actor() -> tuple[str, int | None]:
    return g.principal.name, g.principal.user_id


def _call(call_id: int) -> Call:
    call = db().get(Call, call_id)
    if call is None:
        raise ApiError(404, "not_found", "There is no call with this id.")
    return call


def _alarm(alarm_id: int) -> Alarm:
    alarm = db().get(Alarm, alarm_id)
    if alarm is None:
        raise ApiError(404, "not_found", "There is no alarm with this id.")
    return alarm


def _link(link_id: int) -> LocationLink:
    link = db().get(LocationLink, link_id)
    if link is None:
        raise ApiError(404, "not_found", "There is no location link with this id.")
    return link


def _created(new: links.NewLink):
    link = new.link
    return jsonify(url=new.url, expires_at=iso(link.expires_at), id=link.id, via=link.via,
                   sent=link.send_state == "sent", send_state=link.send_state, error=link.last_error), 201


def _via() -> str:
    via = json_body().get("via", "sms")
    if via not in ("sms", "whatsapp"):
        raise ApiError(400, "invalid_via", 'Send the link by "sms" or "whatsapp".')
    return via


@bp.post("/calls/<int:call_id>/location-link")
@require("calls:write")
def send_for_call(call_id: int):
    """Text the caller a link that shares their phone's position, photos and video with this call."""
    call = _call(call_id)
    via = _via()
    name, user_id = _actor()
    new = links.create_and_send(db(), runtime(), call=call, via=via, actor=name, actor_id=user_id,
                                ip=request.remote_addr)
    events.publish(db(), "call.updated", {"id": call.id, "location_link": new.link.send_state})
    db().commit()
    return _created(new)


@bp.post("/alarms/<int:alarm_id>/location-link")
@require("alarms:write")
def send_for_alarm(alarm_id: int):
    alarm = _alarm(alarm_id)
    via = _via()
    name, user_id = _actor()
    new = links.create_and_send(db(), runtime(), alarm=alarm, via=via, actor=name, actor_id=user_id,
                                ip=request.remote_addr)
    return _created(new)


def _overview(*, call_id: int | None = None, alarm_id: int | None = None):
    now = utcnow()
    settings = runtime().settings
    found = links.links_of(db(), call_id=call_id, alarm_id=alarm_id)
    media = links.media_of(db(), call_id=call_id, alarm_id=alarm_id)
    return jsonify(
        links=[link_json(link, now) for link in found],
        media=[evidence.media_json(m) for m in media],
        whatsapp=bool(settings.location_link_whatsapp_from),
        ice_servers=signals.ice_servers(settings),
        can_listen=g.principal.can(LISTEN_SCOPE),
    )


@bp.get("/calls/<int:call_id>/location-link")
@require("calls:read")
def call_overview(call_id: int):
    """The call's links (newest first), the photos and videos they brought, and the ICE servers."""
    _call(call_id)
    return _overview(call_id=call_id)


@bp.get("/alarms/<int:alarm_id>/location-link")
@require("alarms:read")
def alarm_overview(alarm_id: int):
    _alarm(alarm_id)
    return _overview(alarm_id=alarm_id)


@bp.post("/location-links/<int:link_id>/close")
@require("calls:write")
def close(link_id: int):
    """End a link before it expires (the phone is told on its next request)."""
    link = _link(link_id)
    if link.closed_at is None:
        link.closed_at = utcnow()
        name, user_id = _actor()
        audit.record(db(), name, "location_link.closed", f"link:{link.id}", actor_id=user_id, ip=request.remote_addr)
        if link.call_id is not None:
            events.publish(db(), "call.updated", {"id": link.call_id, "location_link": "ended"})
        db().commit()
    return jsonify(link_json(link))


# --- live video ------------------------------------------------------------------------------

@bp.get("/location-links/<int:link_id>/signals")
@require("calls:read")
def console_signals(link_id: int):
    link = _link(link_id)
    after = request.args.get("after", "0")
    return jsonify(signals=signals.read(db(), link, "console", int(after) if is_record_id(after) else 0),
                   state=links.link_state(link))


@bp.post("/location-links/<int:link_id>/signals")
@require("calls:write")
def console_signal(link_id: int):
    """Ask the phone for video, answer its offer, or hang up."""
    link = _link(link_id)
    if links.link_state(link) == "ended":
        raise ApiError(410, "expired", "This link has ended; send a new one.")
    body = json_body()
    signal = signals.post(db(), link, "console", body)
    if signal.kind == "request":
        name, user_id = _actor()
        audit.record(db(), name, "location_link.video_requested", f"link:{link.id}", actor_id=user_id,
                     ip=request.remote_addr, detail={"call_id": link.call_id, "alarm_id": link.alarm_id})
    db().commit()
    return jsonify(id=signal.id), 201


@bp.post("/location-links/<int:link_id>/videos")
@require("calls:write")
def start_video(link_id: int):
    """The console starts recording the live video it receives: evidence, like a recording."""
    link = _link(link_id)
    content_type = str(json_body().get("content_type") or "video/webm").split(";")[0].strip()
    if content_type not in VIDEO_TYPES:
        raise ApiError(400, "invalid_type", "Video is recorded as video/webm or video/mp4.")
    name, user_id = _actor()
    media = evidence.start_video(db(), runtime().settings, link, content_type, actor=name, actor_id=user_id)
    db().commit()
    return jsonify(evidence.media_json(media)), 201


def _receiving(link_id: int, media_id: int) -> LinkMedia:
    media = db().get(LinkMedia, media_id)
    if media is None or media.link_id != link_id or media.kind != "video":
        raise ApiError(404, "not_found", "There is no such video on this link.")
    if media.state != "receiving":
        raise ApiError(409, "finished", "This video is finished; start a new one.")
    return media


@bp.post("/location-links/<int:link_id>/videos/<int:media_id>")
@require("calls:write")
def video_chunk(link_id: int, media_id: int):
    """One piece of the recording, in order (the body is the bytes MediaRecorder gave)."""
    request.max_content_length = VIDEO_CHUNK_MAX_BYTES
    media = _receiving(link_id, media_id)
    data = request.get_data(cache=False)
    if not evidence.append_video(media, data, runtime().settings.location_link_video_max_bytes):
        raise ApiError(413, "video_full", "The recording reached its size limit; it was kept up to here.")
    db().commit()
    return jsonify(size_bytes=media.size_bytes)


@bp.post("/location-links/<int:link_id>/videos/<int:media_id>/finish")
@require("calls:write")
def video_finish(link_id: int, media_id: int):
    media = _receiving(link_id, media_id)
    duration = json_body().get("duration_s")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration < 86400:
        duration = None
    name, user_id = _actor()
    evidence.finish_video(db(), media, duration_s=duration, actor=name, actor_id=user_id)
    link = db().get(LocationLink, link_id)
    if link.call_id is not None:
        events.publish(db(), "call.updated", {"id": link.call_id, "media": "video"})
    db().commit()
    return jsonify(evidence.media_json(media))


# --- evidence ---------------------------------------------------------------------------------

def _media(media_id: int) -> LinkMedia:
    media = db().get(LinkMedia, media_id)
    if media is None:
        raise ApiError(404, "not_found", "There is no such photo or video.")
    return media


@bp.get("/evidence")
@require("calls:read")
def list_evidence():
    call_id, alarm_id = request.args.get("call_id", ""), request.args.get("alarm_id", "")
    if call_id:
        rows = links.media_of(db(), call_id=record_id(call_id, "call_id"))
    elif alarm_id:
        rows = links.media_of(db(), alarm_id=record_id(alarm_id, "alarm_id"))
    else:
        raise ApiError(400, "call_id_required", "Give the call's or the alarm's number: ?call_id=ID or ?alarm_id=ID.")
    return jsonify(evidence=[evidence.media_json(m) for m in rows])


@bp.get("/evidence/<int:media_id>/file")
@require("calls:read")
def evidence_file(media_id: int):
    """A photo as people may see it (metadata stripped), or a recorded video for supervisors; audited."""
    media = _media(media_id)
    if media.state == "removed":
        raise ApiError(410, "removed", "This was removed by the retention rules.")
    if media.kind == "video":
        if not g.principal.can(LISTEN_SCOPE):
            raise ApiError(403, "forbidden", "Recorded video is for supervisors, like recordings.")
        if media.state != "ok":
            raise ApiError(409, "recording", "This video is still being recorded.")
        path = Path(media.path)
        mimetype = media.content_type
    else:
        path = Path(media.view_path or "")
        mimetype = "image/jpeg"
    if not path.is_file():
        raise ApiError(404, "no_file", "The file of this evidence cannot be found.")
    range_header = request.headers.get("Range")
    if range_header is None or range_header.replace(" ", "").startswith("bytes=0-"):
        name, user_id = _actor()
        audit.record(db(), name, "evidence.view", f"media:{media.id}", actor_id=user_id, ip=request.remote_addr,
                     detail={"kind": media.kind, "call_id": media.call_id, "alarm_id": media.alarm_id})
        db().commit()
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.post("/evidence/<int:media_id>/hold")
@require(LISTEN_SCOPE)
def evidence_hold(media_id: int):
    hold, reason = legal_hold_request(json_body(), "it")
    media = _media(media_id)
    if media.state == "removed":
        raise ApiError(409, "removed", "This was removed already; there is nothing to hold.")
    name, user_id = _actor()
    changed = media.legal_hold != hold
    media.legal_hold = hold
    audit.record(db(), name, "evidence.hold" if hold else "evidence.release", f"media:{media.id}",
                 actor_id=user_id, ip=request.remote_addr,
                 detail={"call_id": media.call_id, "alarm_id": media.alarm_id, "reason": (reason or "")[:500] or None,
                         "changed": changed})
    db().commit()
    return jsonify(evidence.media_json(media))
