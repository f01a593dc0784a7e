"""WebRTC signalling through Siaga112: the phone and the console leave messages, the other side polls.

The console asks (`request`); the phone, once its user agrees, sends an `offer` with every ICE
candidate gathered into the SDP (no trickle, so one message each way is enough over polling);
the console sends the `answer`; either may `hangup`, and the phone may say it `refused`. The
media then flows directly between the two browsers (or through the centre's TURN server).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112.db import iso
from siaga112.errors import ApiError
from siaga112.models import LinkSignal, LocationLink

MAX_SDP_CHARS = 20_000
MAX_BATCH = 50
KINDS_BY_SENDER = {
    "console": ("request", "answer", "hangup"),
    "phone": ("offer", "hangup", "refused"),
}


def post(session: Session, link: LocationLink, sender: str, body: dict) -> LinkSignal:
    """Store one message from `sender` after checking its kind and SDP (flushes)."""
    kind = body.get("kind")
    if kind not in KINDS_BY_SENDER[sender]:
        raise ApiError(400, "invalid_signal", f"The {sender} may send only: {', '.join(KINDS_BY_SENDER[sender])}.")
    payload = None
    if kind in ("offer", "answer"):
        sdp = body.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_CHARS:
            raise ApiError(400, "invalid_sdp", "The session description is missing or not SDP.")
        payload = {"type": kind, "sdp": sdp}
    signal = LinkSignal(link_id=link.id, sender=sender, kind=kind, body=payload)
    session.add(signal)
    session.flush()
    return signal


def read(session: Session, link: LocationLink, reader: str, after: int) -> list[dict]:
    """Messages for `reader` (those the other side sent) after id `after`, oldest first."""
    other = "phone" if reader == "console" else "console"
    rows = session.scalars(select(LinkSignal).where(LinkSignal.link_id == link.id, LinkSignal.sender == other,
                                                    LinkSignal.id > after)
                           .order_by(LinkSignal.id).limit(MAX_BATCH))
    return [{"id": s.id, "kind": s.kind, "body": s.body, "at": iso(s.created_at)} for s in rows]


def latest_id(session: Session, link: LocationLink) -> int:
    return session.scalar(select(LinkSignal.id).where(LinkSignal.link_id == link.id)
                          .order_by(LinkSignal.id.desc()).limit(1)) or 0


def ice_servers(settings) -> list[dict]:
    """The STUN and TURN servers both browsers use, from the settings."""
    servers = []
    stun = [url.strip() for url in settings.webrtc_stun_urls.split(",") if url.strip()]
    if stun:
        servers.append({"urls": stun})
    turn = [url.strip() for url in settings.webrtc_turn_urls.split(",") if url.strip()]
    if turn:
        entry = {"urls": turn}
        if settings.webrtc_turn_username:
            entry.update(username=settings.webrtc_turn_username, credential=settings.webrtc_turn_credential)
        servers.append(entry)
    return servers
