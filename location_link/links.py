"""Location links: made for one call or alarm, sent through Twilio, opened and bound by one phone.

The token is `secrets.token_urlsafe` (192 bits) and only its SHA-256 is stored, so a copy of the
database opens no link. A link is usable until `expires_at`; the first phone that accepts it
(presses the consent button, which link previews of messaging apps never do) is given a cookie,
and from then on only that cookie's holder is heard. The page and every answer to the phone are
about this link alone: they name no caller, no call and no centre staff.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from siaga112 import audit
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.i18n import LANGUAGES, translate
from siaga112.models import Alarm, Call, LinkMedia, LocationLink, Reporter

log = logging.getLogger(__name__)

TOKEN_BYTES = 24
PATH_PREFIX = "/l/"
DEVICE_COOKIE = "s112_link"



def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass
class NewLink:
    """A link just made: the row, and the URL (the only place the token exists)."""

    link: LocationLink
    url: str


def link_url(settings, token: str) -> str:
    base = settings.public_base_url.rstrip("/")
    if not base:
        raise ApiError(409, "no_public_url",
                       "Set public_base_url: a location link must point at an address callers' phones can reach.")
    return f"{base}{PATH_PREFIX}{token}"


def make_link(session: Session, settings, *, call: Call | None = None, alarm: Alarm | None = None, via: str,
              to_number: str | None, actor: str, language: str | None = None) -> NewLink:
    """Create a link for one call or one alarm (flushes; the caller commits)."""
    if (call is None) == (alarm is None):
        raise ValueError("a link belongs to exactly one call or one alarm")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    url = link_url(settings, token)
    now = utcnow()
    link = LocationLink(
        token_hash=hash_secret(token), call_id=call.id if call else None, alarm_id=alarm.id if alarm else None,
        via=via, to_number=to_number, language=language if language in LANGUAGES else LANGUAGES[0],
        created_by=actor[:120], created_at=now, expires_at=now + timedelta(minutes=settings.location_link_minutes),
        send_state="queued" if via != "reply" else "sent", positions=0, photos=0, budget_minute=0, budget_used=0)
    session.add(link)
    session.flush()
    return NewLink(link, url)


def caller_number(session: Session, *, call: Call | None = None, alarm: Alarm | None = None) -> str | None:
    """The number a link goes to: the caller's, or the reporter's behind an alarm."""
    if call is not None:
        return call.caller
    if alarm is not None and alarm.reporter_id is not None:
        reporter = session.get(Reporter, alarm.reporter_id)
        return reporter.phone if reporter else None
    return None


def send(runtime, link: LocationLink, url: str) -> bool:
    """Text the link through the twilio library (SMS, or WhatsApp where a sender is set); record the outcome."""
    from routing import notify

    settings = runtime.settings
    minutes = settings.location_link_minutes
    body = translate("ll.sms", link.language, url=url, minutes=minutes)
    to, sender = link.to_number, settings.twilio_from_number
    if link.via == "whatsapp":
        to, sender = f"whatsapp:{link.to_number}", f"whatsapp:{settings.location_link_whatsapp_from}"
    try:
        message = notify.twilio_client(runtime).messages.create(to=to, from_=sender, body=body)
    except Exception as error:  # noqa: BLE001 - the console is told; the URL can still be read out
        reason, _retry = notify._refusal(error)
        link.send_state, link.last_error = "failed", reason[:300]
        log.warning("location link %s by %s failed: %s", link.id, link.via, reason)
        return False
    link.send_state, link.provider_id, link.last_error = "sent", getattr(message, "sid", None), None
    return True


def create_and_send(session: Session, runtime, *, call: Call | None = None, alarm: Alarm | None = None,
                    via: str, actor: str, actor_id: int | None = None, ip: str | None = None) -> NewLink:
    """Make a link for a call or an alarm and text it to the caller (commits before and after sending)."""
    settings = runtime.settings
    if via not in ("sms", "whatsapp"):
        raise ApiError(400, "invalid_via", 'Send the link by "sms" or "whatsapp".')
    if via == "whatsapp" and not settings.location_link_whatsapp_from:
        raise ApiError(409, "whatsapp_not_configured",
                       "WhatsApp is not set up here (location_link_whatsapp_from); send the link by SMS.")
    number = caller_number(session, call=call, alarm=alarm)
    if not number:
        raise ApiError(409, "no_number", "The caller's number is unknown; there is no phone to send a link to.")
    new = make_link(session, settings, call=call, alarm=alarm, via=via, to_number=number, actor=actor,
                    language=settings.language)
    target = f"call:{call.id}" if call is not None else f"alarm:{alarm.id}"
    session.commit()  # the link is on record even if the send fails
    send(runtime, new.link, new.url)
    audit.record(session, actor, "location_link.sent", target, actor_id=actor_id, ip=ip, detail={
        "link_id": new.link.id, "via": via, "send_state": new.link.send_state, "error": new.link.last_error})
    session.commit()
    return new


def reply_link(session: Session, runtime, alarm: Alarm) -> str | None:
    """A link for the TwiML answer to a text to 112 (no message is sent: the answer carries it)."""
    if not runtime.settings.public_base_url:
        return None
    new = make_link(session, runtime.settings, alarm=alarm, via="reply",
                    to_number=caller_number(session, alarm=alarm), actor="text-to-112",
                    language=runtime.settings.language)
    audit.record(session, "text-to-112", "location_link.offered", f"alarm:{alarm.id}",
                 detail={"link_id": new.link.id, "via": "reply"})
    return new.url


# --- the phone's side ---------------------------------------------------------------------

class LinkRefused(Exception):
    """Why a phone's request on a link is refused: status, slug and the words key of the page."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def find_link(session: Session, token: str) -> LocationLink:
    """The link a token opens, or LinkRefused: 404 for a token we never made, 410 once it has ended."""
    if not token or len(token) > 100:
        raise LinkRefused(404, "unknown")
    link = session.scalar(select(LocationLink).where(LocationLink.token_hash == hash_secret(token)))
    if link is None:
        raise LinkRefused(404, "unknown")
    if link.closed_at is not None or utcnow() >= link.expires_at:
        raise LinkRefused(410, "expired")
    return link


def holds_link(link: LocationLink, device_secret: str | None) -> bool:
    return (link.device_hash is not None and bool(device_secret)
            and hmac.compare_digest(link.device_hash, hash_secret(device_secret)))


def bind(session: Session, link: LocationLink, device_secret: str | None) -> str | None:
    """Bind the link to this phone. Returns a new device secret for the cookie (None if it held it already).

    The UPDATE only succeeds while nobody holds the link, so two phones pressing at once cannot
    both win. A phone that holds it may press again (a reload).
    """
    if holds_link(link, device_secret):
        return None
    if link.device_hash is not None:
        raise LinkRefused(403, "taken")
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    done = session.execute(update(LocationLink).where(LocationLink.id == link.id, LocationLink.device_hash.is_(None))
                           .values(device_hash=hash_secret(secret), bound_at=now, last_seen_at=now))
    if done.rowcount != 1:
        session.rollback()
        raise LinkRefused(403, "taken")
    session.refresh(link)
    audit.record(session, f"link:{link.id}", "location_link.opened", _target(link), detail={"link_id": link.id})
    return secret


def require_holder(link: LocationLink, device_secret: str | None) -> None:
    if link.device_hash is None:
        raise LinkRefused(409, "not_started")
    if not holds_link(link, device_secret):
        raise LinkRefused(403, "taken")


def spend(session: Session, link: LocationLink, per_minute: int) -> None:
    """Count one request against the link's budget for this minute, atomically; 429 when it is spent."""
    minute = int(utcnow().timestamp() // 60)
    table = LocationLink.__table__
    done = session.execute(
        update(table).where(table.c.id == link.id,
                            ~((table.c.budget_minute == minute) & (table.c.budget_used >= per_minute)))
        .values(budget_used=case((table.c.budget_minute == minute, table.c.budget_used + 1), else_=1),
                budget_minute=minute, last_seen_at=utcnow()))
    if done.rowcount != 1:
        raise LinkRefused(429, "slow_down")


def _target(link: LocationLink) -> str:
    return f"call:{link.call_id}" if link.call_id is not None else f"alarm:{link.alarm_id}"


def link_state(link: LocationLink, now: datetime | None = None) -> str:
    """What the console shows: failed, sent, opened, ended (expired or closed)."""
    now = now or utcnow()
    if link.closed_at is not None or now >= link.expires_at:
        return "ended"
    if link.bound_at is not None:
        return "opened"
    return link.send_state


def link_json(link: LocationLink, now: datetime | None = None) -> dict:
    return {
        "id": link.id, "call_id": link.call_id, "alarm_id": link.alarm_id, "via": link.via,
        "to": link.to_number, "state": link_state(link, now), "send_state": link.send_state,
        "last_error": link.last_error, "created_by": link.created_by, "created_at": iso(link.created_at),
        "expires_at": iso(link.expires_at), "opened_at": iso(link.bound_at), "last_seen_at": iso(link.last_seen_at),
        "last_position_at": iso(link.last_position_at), "positions": link.positions, "photos": link.photos,
    }


def links_of(session: Session, *, call_id: int | None = None, alarm_id: int | None = None) -> list[LocationLink]:
    column = LocationLink.call_id if call_id is not None else LocationLink.alarm_id
    return list(session.scalars(select(LocationLink).where(column == (call_id if call_id is not None else alarm_id))
                                .order_by(LocationLink.id.desc())))


def media_of(session: Session, *, call_id: int | None = None, alarm_id: int | None = None) -> list[LinkMedia]:
    column = LinkMedia.call_id if call_id is not None else LinkMedia.alarm_id
    return list(session.scalars(select(LinkMedia).where(column == (call_id if call_id is not None else alarm_id))
                                .order_by(LinkMedia.id)))
