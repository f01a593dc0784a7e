"""The citizen app's one-button SOS.

Life safety decides what is refused: a body we cannot read, or one without the phone number
that tells us who to call back, is a 400 the app can fix and resend at once. Anything else is
taken. Coordinates that are missing or impossible (NaN, out of range, the 0, 0 of a phone
without a fix) do not refuse the SOS: it is stored unlocated with the reason, so a call-taker
calls the number back and asks. A blocked reporter's SOS is taken too, only marked and lowered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from siaga112.errors import ApiError
from siaga112.models import Alarm
from siaga112.runtime import Runtime
from siaga112.storable import clean, evidence
from routing import reporters
from routing.alarms.store import PRIORITY_BLOCKED_REPORTER, PRIORITY_TOP, AlarmIntake, commit_alarm

MAX_MESSAGE_CHARS = 2000
DEFAULT_KIND = "sos"


def _text(value, name: str, limit: int, *, multiline: bool = False) -> str | None:
    """Text the app sent, readable and storable (`siaga112.storable.clean`): never a reason to refuse."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{name}", f"{name} must be text.")
    return clean(value, limit, multiline=multiline)


def _category(runtime: Runtime, kind: str) -> str:
    """The kind itself when routing knows it (medical, fire, crime, ...), else the SOS alias."""
    from routing.service import valid_categories

    try:
        return kind if kind in valid_categories(runtime) else DEFAULT_KIND
    except Exception:  # the rules cannot be read: route as a plain SOS, the alarm still stands
        return DEFAULT_KIND


def _dedupe_key(phone: str, idempotency_key: str | None, token_id: int | None = None) -> str | None:
    """The key a resent SOS finds its first alarm by; a long or odd Idempotency-Key is hashed, so
    two different keys can never meet in the column's 200 characters. The key is the poster's
    own (its token's), so no other client can read an alarm back by guessing it."""
    if not idempotency_key:
        return None
    key = evidence(idempotency_key)
    if len(key) > 120:
        key = "sha256:" + hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sos:t{token_id}:{phone}:{key}" if token_id is not None else f"sos:{phone}:{key}"


@dataclass
class SosReport:
    """An SOS as read from the app's body, before any database is asked: what `keep` journals
    when the database is away, and what `store_sos` writes."""

    phone: str
    name: str | None
    app_user_id: str | None
    intake: AlarmIntake


def read_sos(runtime: Runtime, body: dict, *, idempotency_key: str | None = None, token_id: int | None = None,
             receipt: str | None = None) -> SosReport:
    """Read one SOS without the database. Raises ApiError(400) only for what the app can fix.

    `receipt` (the answer when the SOS is kept in the journal) becomes its dedupe key when the
    app sent no Idempotency-Key, so a write that finished late and the journal's replay of the
    same SOS still make one alarm.
    """
    reporter_data = body.get("reporter")
    if not isinstance(reporter_data, dict):
        raise ApiError(400, "missing_reporter", "The SOS needs reporter.phone so we can call back.")
    try:
        phone = reporters.normalize_phone(reporter_data.get("phone"), runtime.settings.phone_region)
    except ValueError as error:
        raise ApiError(400, "invalid_phone", f"{error} The SOS needs the reporter's phone to call back.") from None
    name = _text(reporter_data.get("name"), "name", 200)
    app_user_id = _text(reporter_data.get("app_user_id"), "app_user_id", 120)
    kind = (_text(body.get("kind"), "kind", 32) or DEFAULT_KIND).lower()
    message = _text(body.get("message"), "message", MAX_MESSAGE_CHARS, multiline=True)

    flags: dict = {}
    location = body.get("location")
    lat = lon = accuracy = None
    if isinstance(location, dict):
        lat, lon = location.get("lat"), location.get("lon")
        accuracy = location.get("accuracy_m")
        if accuracy is not None and (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float))
                                     or not 0 <= accuracy < 1e6):
            flags["accuracy_warning"] = "The accuracy sent was not a distance in metres; it was ignored."
            accuracy = None
    elif location is not None:
        flags["location_warning"] = "The location was not an object with lat and lon; ask the caller where they are."
        flags["reported_location"] = repr(location)[:200]
    dedupe_key = _dedupe_key(phone, idempotency_key or (f"receipt:{receipt}" if receipt else None), token_id)
    if receipt:
        flags["receipt"] = receipt
    intake = AlarmIntake(
        source="sos", kind=kind, category=_category(runtime, kind), priority=PRIORITY_TOP, lat=lat, lon=lon,
        accuracy_m=float(accuracy) if accuracy is not None else None, message=message,
        dedupe_key=dedupe_key, flags=flags, posted_by_token_id=token_id,
    )
    return SosReport(phone, name, app_user_id, intake)


def sos_intake(session: Session, report: SosReport) -> AlarmIntake:
    """The report's alarm with its reporter (made on first contact): a blocked one's SOS is
    taken too, marked and lowered."""
    reporter = reporters.get_or_create(session, report.phone, name=report.name, app_user_id=report.app_user_id)
    intake = replace(report.intake, reporter_id=reporter.id, flags=dict(report.intake.flags))
    if reporter.blocked:
        intake.flags.update(reporter_blocked=True, reporter_strikes=reporter.strikes)
        intake.priority = PRIORITY_BLOCKED_REPORTER
    return intake


def store_sos(session: Session, runtime: Runtime, report: SosReport) -> tuple[Alarm, bool]:
    """Store one SOS read by `read_sos` and commit: (alarm, created)."""
    return commit_alarm(session, runtime, sos_intake(session, report))


def take_sos(session: Session, runtime: Runtime, body: dict, *,
             idempotency_key: str | None = None, token_id: int | None = None) -> tuple[Alarm, bool]:
    """Store one SOS and commit: (alarm, created). Raises ApiError(400) only for what the app can fix."""
    return store_sos(session, runtime, read_sos(runtime, body, idempotency_key=idempotency_key, token_id=token_id))
