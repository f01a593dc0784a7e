"""Text-to-112 for people who cannot speak: an SMS becomes an alarm, and the console can text back.

An incoming text is an emergency channel, so nothing about its sender refuses it: a blocked
reporter's text is marked and lowered like an SOS. A text that names coordinates or a known
place (kelurahan or kecamatan of the imported boundaries) is located there; otherwise it is
stored unlocated and the call-taker asks. Further texts from the same number while its alarm
is open join that alarm's conversation instead of raising new alarms.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112 import events
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.models import Alarm, AlarmMessage, Jurisdiction, Reporter
from siaga112.runtime import Runtime
from siaga112.storable import clean
from routing import reporters
from routing.alarms.store import (PRIORITY_BLOCKED_REPORTER, PRIORITY_TEXT_TO_112, AlarmIntake, alarm_json,
                                  commit_alarm)

log = logging.getLogger(__name__)

CONVERSATION_WINDOW = timedelta(hours=2)
MAX_TEXT_CHARS = 1600  # Twilio joins a long SMS into at most 1600 characters
MAX_REPLY_CHARS = 480

# "-7.9666, 112.6326", "lat -7.9666 lon 112.6326", or a maps link "...?q=-7.9666,112.6326"
COORDINATES = re.compile(r"""
    (?:lat(?:itude)?\s*[:=]?\s*)?
    (?P<lat>[-+]?\d{1,2}\.\d{3,})          # latitude, at least 3 decimals (about 100 m)
    \s*(?:,|;|/|\s)\s*
    (?:lo?ng?(?:itude)?\s*[:=]?\s*)?
    (?P<lon>[-+]?\d{1,3}\.\d{3,})          # longitude
""", re.VERBOSE | re.IGNORECASE)

ANSWERS = {
    "id": "112: Pesan Anda sudah kami terima. Bantuan sedang diatur. Tetap di tempat aman; "
          "kami akan membalas lewat SMS. Kirim lokasi Anda jika bisa.",
    "en": "112: We have your message. Help is being arranged. Stay somewhere safe; "
          "we will text you back. Send your location if you can.",
}
FOLLOW_UP = {
    "id": "112: Pesan tambahan Anda sudah kami terima.",
    "en": "112: We have your further message.",
}


def valid_signature(runtime: Runtime, path: str, query: str, form, signature: str | None) -> bool:
    """Twilio's X-Twilio-Signature over the public URL it called (public_base_url + path)."""
    from twilio.request_validator import RequestValidator

    settings = runtime.settings
    if not signature or not settings.twilio_auth_token or not settings.public_base_url:
        return False
    url = settings.public_base_url.rstrip("/") + path + (f"?{query}" if query else "")
    return RequestValidator(settings.twilio_auth_token).validate(url, form, signature)


def locate_text(session: Session, text: str) -> tuple[float | None, float | None, str | None]:
    """(lat, lon, how) from coordinates in the text, else a place name it mentions, else nothing."""
    from routing.geo import validate_point

    for match in COORDINATES.finditer(text):
        try:
            lat, lon = validate_point(match.group("lat"), match.group("lon"))
        except ValueError:
            continue
        return lat, lon, "coordinates in the text"
    lowered = text.lower()
    best = None
    places = session.execute(select(Jurisdiction.name, Jurisdiction.level, Jurisdiction.centroid_lat,
                                    Jurisdiction.centroid_lon).where(Jurisdiction.centroid_lat.is_not(None)))
    rank = {"kelurahan": 0, "kecamatan": 1, "kota": 2}
    for name, level, lat, lon in places:
        if re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered):
            key = (rank.get(level, 3), -len(name))
            if best is None or key < best[0]:
                best = (key, lat, lon, f"{level} {name} named in the text")
    if best:
        return best[1], best[2], best[3]
    return None, None, None


def take_text(session: Session, runtime: Runtime, form) -> tuple[Alarm, str]:
    """Store one incoming text (commits): (alarm, "new" | "follow_up" | "repeat")."""
    sender = form.get("From", "")
    text = clean(form.get("Body"), MAX_TEXT_CHARS, multiline=True) or ""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()[:64] or None
    try:
        phone = reporters.normalize_phone(sender, runtime.settings.phone_region)
    except ValueError:
        phone = None  # a short code or a withheld sender: still an emergency text
    if sid:
        repeat = session.scalar(select(AlarmMessage).where(AlarmMessage.provider_id == sid,
                                                           AlarmMessage.direction == "in"))
        if repeat is not None:  # Twilio retried a webhook we already answered
            return session.get(Alarm, repeat.alarm_id), "repeat"
    reporter = reporters.get_or_create(session, phone) if phone else None
    ongoing = None
    if reporter is not None:
        ongoing = session.scalar(select(Alarm).where(
            Alarm.source == "sms", Alarm.reporter_id == reporter.id, Alarm.state != "closed",
            Alarm.received_at >= utcnow() - CONVERSATION_WINDOW).order_by(Alarm.id.desc()).limit(1))
    if ongoing is not None:
        session.add(AlarmMessage(alarm_id=ongoing.id, direction="in", body=text, author=phone, provider_id=sid))
        if ongoing.lat is None:
            lat, lon, how = locate_text(session, text)
            if lat is not None:
                ongoing.lat, ongoing.lon = lat, lon
                ongoing.flags = {**(ongoing.flags or {}), "located_by": how}
        session.flush()
        events.publish(session, "alarm.updated", alarm_json(session, ongoing))
        session.commit()
        return ongoing, "follow_up"
    lat, lon, how = locate_text(session, text)
    flags: dict = {"sender": sender[:40]}
    if how:
        flags["located_by"] = how
    priority = PRIORITY_TEXT_TO_112
    if reporter is not None and reporter.blocked:
        flags.update(reporter_blocked=True, reporter_strikes=reporter.strikes)
        priority = PRIORITY_BLOCKED_REPORTER
    alarm, _ = commit_alarm(session, runtime, AlarmIntake(
        source="sms", kind="text", category="sos", priority=priority, lat=lat, lon=lon, message=text,
        reporter_id=reporter.id if reporter else None, dedupe_key=f"sms:{sid}" if sid else None, flags=flags,
    ))
    session.add(AlarmMessage(alarm_id=alarm.id, direction="in", body=text, author=phone or sender[:40],
                             provider_id=sid))
    session.commit()
    return alarm, "new"


def answer_twiml(runtime: Runtime, outcome: str, extra: str = "") -> str:
    """The TwiML reply Twilio texts back to the sender at once (`extra`: a location link sentence)."""
    from twilio.twiml.messaging_response import MessagingResponse

    language = runtime.settings.language if runtime.settings.language in ANSWERS else "id"
    response = MessagingResponse()
    response.message((FOLLOW_UP[language] if outcome == "follow_up" else ANSWERS[language]) + extra)
    return str(response)


def send_reply(session: Session, runtime: Runtime, alarm: Alarm, body: str, *, actor: str) -> AlarmMessage:
    """Text a question or an instruction to the person behind an alarm; the attempt is kept (commits)."""
    from routing import notify

    body = (body or "").strip()
    if not body:
        raise ApiError(400, "empty_message", "Write the message to send.")
    if len(body) > MAX_REPLY_CHARS:
        raise ApiError(400, "message_too_long", f"Keep the message under {MAX_REPLY_CHARS} characters.")
    to = _reply_number(session, alarm)
    if to is None:
        raise ApiError(409, "no_number", "This alarm has no phone number to text back.")
    message = AlarmMessage(alarm_id=alarm.id, direction="out", body=body, author=actor, status="queued")
    session.add(message)
    session.commit()  # the console's question is on record even if the send fails
    try:
        sent = notify.twilio_client(runtime).messages.create(to=to, from_=runtime.settings.twilio_from_number,
                                                             body=body)
    except Exception as error:  # noqa: BLE001 - every failure is shown to the console as failed
        message.status = "failed"
        log.warning("reply to alarm %s failed: %s", alarm.id, type(error).__name__)
    else:
        message.status, message.provider_id = "sent", getattr(sent, "sid", None)
    session.flush()
    events.publish(session, "alarm.updated", alarm_json(session, alarm))
    session.commit()
    return message


def _reply_number(session: Session, alarm: Alarm) -> str | None:
    if alarm.reporter_id is not None:
        return session.get(Reporter, alarm.reporter_id).phone
    return None


def message_json(message: AlarmMessage) -> dict:
    return {"id": message.id, "direction": message.direction, "body": message.body, "at": iso(message.at),
            "author": message.author, "status": message.status}


def conversation(session: Session, alarm: Alarm) -> list[dict]:
    rows = session.scalars(select(AlarmMessage).where(AlarmMessage.alarm_id == alarm.id).order_by(AlarmMessage.id))
    return [message_json(m) for m in rows]
