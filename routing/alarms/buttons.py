"""IP panic buttons: signed webhook events (panic, duress, cancel, test, heartbeat).

Each device signs `TIMESTAMP.BODY` with its own secret (HMAC-SHA256). A stale timestamp or a
bad signature is refused (401) so a captured request cannot be replayed later; a repeated
event id gets the first answer back, because a button that lost our reply resends the same
event and must not raise a second alarm.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siaga112 import events
from siaga112.db import iso, utcnow
from siaga112.errors import ApiError
from siaga112.models import Alarm, AlarmSite, ButtonEvent
from siaga112.runtime import Runtime
from siaga112.storable import evidence
from siaga112.storage import read_private_copy, write_private_copy
from siaga112.web_input import loads_limited
from routing.alarms.store import PRIORITY_TOP, AlarmIntake, alarm_json, take_alarm
from routing.alarms.supervision import clear_offline

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_BODY_BYTES = 4096
BUTTON_EVENTS = ("panic", "duress", "cancel", "test", "heartbeat")
# What each event means: the alarm kind it raises (routing alias of the same name), or None.
ALARM_KINDS = {"panic": "panic", "duress": "duress", "cancel": None, "test": None, "heartbeat": None}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Siaga-Signature value a device sends: sha256=HEX of HMAC(secret, TIMESTAMP.BODY)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _check_signature(site, timestamp: str | None, signature: str | None, body: bytes,
                     now: float) -> None:
    unsigned = ApiError(401, "bad_signature", "The event is not signed correctly for this device.")
    if not timestamp or not signature:
        raise unsigned
    # Unix seconds have 10 digits until 2286; a longer number (400 digits did overflow a float) is no time.
    if not TIMESTAMP.fullmatch(timestamp.strip()):
        raise ApiError(401, "bad_timestamp", "X-Siaga-Timestamp must be Unix seconds.")
    sent = int(timestamp)
    if abs(now - sent) > MAX_SKEW_S:
        raise ApiError(401, "stale_timestamp",
                       f"The event's timestamp is more than {MAX_SKEW_S} s from our clock; check the device's time.")
    if not site.secret or not hmac.compare_digest(sign(site.secret, timestamp, body), signature.strip()):
        raise unsigned


def _parse(body: bytes) -> dict:
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"A button event is at most {MAX_BODY_BYTES} bytes.")
    try:
        data = loads_limited(body)
    except ValueError:  # also too deep, numbers beyond 64 bits, bytes that are not UTF-8
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    device = data.get("device_id")
    if not isinstance(device, str) or not device.strip() or len(device) > 120:
        raise ApiError(400, "invalid_device_id", "device_id must be a non-empty string of at most 120 characters.")
    return data


def _validate(data: dict) -> None:
    """The rest of the event, read only once its signature is known to be good."""
    value = data.get("event_id")
    if not isinstance(value, str) or not value.strip() or len(value) > 120:
        raise ApiError(400, "invalid_event_id", "event_id must be a non-empty string of at most 120 characters.")
    if data.get("event") not in BUTTON_EVENTS:
        raise ApiError(400, "invalid_event", f"event must be one of {', '.join(BUTTON_EVENTS)}.")


def _sent_at(value) -> datetime | None:
    """The device's own `ts` (Unix seconds or ISO 8601); informative only, never trusted for order."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), timezone.utc)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


@dataclass(frozen=True)
class ButtonSite:
    """What checking and keeping a button's event needs of its site, remembered for when the
    database is away (`DeviceBook`)."""

    id: int
    name: str
    secret: str | None
    lat: float | None
    lon: float | None

    @classmethod
    def of(cls, site: AlarmSite) -> "ButtonSite":
        return cls(site.id, site.name, site.secret, site.lat, site.lon)


class DeviceBook:
    """The button sites this process has read, by device id: while the database is away an
    event is still checked against its device's secret, kept in the journal and answered.

    Every site is read at start and every few minutes (`read_device_book`, scheduled), and each
    read is copied to `copy_path` (owner-only: it holds the devices' secrets, as the database
    does), from which a process started while the database is away knows them; a copy older
    than `max_age_s` is not trusted. A device added since the last read cannot be checked in an
    outage; its event is answered 503 and the button resends it. Every event read with the
    database up refreshes its entry (a new secret, a removed site).
    """

    def __init__(self, copy_path: str | os.PathLike | None = None, max_age_s: float = 12 * 3600) -> None:
        self._sites: dict[str, ButtonSite] = {}
        self._lock = threading.Lock()
        self.loaded = False
        self.copy_path = copy_path
        self.max_age_s = max_age_s

    def load(self, session: Session) -> None:
        rows = session.scalars(select(AlarmSite).where(AlarmSite.device_id.is_not(None))).all()
        sites = {row.device_id: ButtonSite.of(row) for row in rows}
        with self._lock:
            self._sites = sites
            self.loaded = True
        if self.copy_path is not None:
            try:
                write_private_copy(self.copy_path, [{"device_id": device, **dataclasses.asdict(site)}
                                                    for device, site in sorted(sites.items())])
            except OSError as error:  # the copy only helps a start without the database
                log.warning("the button sites could not be copied to %s: %s", self.copy_path, error)

    def load_copy(self) -> int:
        """The sites of the last read, from the local copy (if younger than `max_age_s`); how many."""
        try:
            copy = None if self.copy_path is None else read_private_copy(self.copy_path, self.max_age_s)
            if copy is None:
                return 0
            sites = {entry.pop("device_id"): ButtonSite(**entry) for entry in copy[0]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("the copy of the button sites at %s cannot be read: %s", self.copy_path, error)
            return 0
        with self._lock:
            self._sites = sites
        return len(sites)

    def note(self, device_id: str, site: AlarmSite | None) -> None:
        with self._lock:
            if site is None:
                self._sites.pop(device_id, None)
            else:
                self._sites[device_id] = ButtonSite.of(site)

    def get(self, device_id: str) -> ButtonSite | None:
        with self._lock:
            return self._sites.get(device_id)


DEVICE_BOOK_CLIENT = "button_device_book"


DEVICE_BOOK_COPY = "button-sites.json"  # in journal_dir


def device_book(runtime: Runtime) -> DeviceBook:
    """The process's one DeviceBook, starting from the copy of the last read."""

    def make(settings) -> DeviceBook:
        book = DeviceBook(copy_path=Path(settings.journal_dir) / DEVICE_BOOK_COPY)
        book.load_copy()
        return book

    return runtime.client(DEVICE_BOOK_CLIENT, make)


def read_device_book(runtime: Runtime) -> None:
    """Scheduled (at start, then every few minutes): every button site known for an outage."""
    with runtime.database.session() as session:
        device_book(runtime).load(session)


@dataclass(frozen=True)
class CheckedEvent:
    """A button event whose signature is good: what `record` stores, and the journal keeps."""

    site: ButtonSite
    event_id: str
    event: str
    ts: object
    body: str


def check(site: ButtonSite | AlarmSite, body: bytes, timestamp: str | None, signature: str | None,
          now: float | None = None) -> CheckedEvent:
    """Check one event's signature and fields against its site (no database): 401 or 400 if wrong."""
    data = _parse(body)
    _check_signature(site, timestamp, signature, body, time.time() if now is None else now)
    _validate(data)
    # The device's own words, kept exactly (escaped where a database could not hold them): the
    # same event resent must find its first answer, and two different ones must not meet.
    return CheckedEvent(site if isinstance(site, ButtonSite) else ButtonSite.of(site),
                        evidence(data["event_id"].strip()), data["event"], data.get("ts"),
                        evidence(body.decode("utf-8", errors="replace")))


def device_of(body: bytes) -> str:
    """The device id an event names (400 when the body is not a button event)."""
    return _parse(body)["device_id"]


def receive(session: Session, runtime: Runtime, body: bytes, timestamp: str | None, signature: str | None,
            now: float | None = None) -> tuple[int, dict]:
    """Check, store and answer one button event: (HTTP status, JSON body). Commits."""
    data = _parse(body)
    site = session.scalar(select(AlarmSite).where(AlarmSite.device_id == data["device_id"]))
    device_book(runtime).note(data["device_id"], site)
    if site is None:
        raise ApiError(404, "unknown_device", "No button is registered with this device id.")
    checked = check(site, body, timestamp, signature, now)
    try:
        status, result = record(session, runtime, checked)
        session.commit()
    except IntegrityError:  # the same event raced in on another connection: its answer stands
        session.rollback()
        first = _first_answer(session, site.id, checked.event_id)
        if first is None:
            raise
        return 200, first
    return status, result


def record(session: Session, runtime: Runtime, checked: CheckedEvent, *, received_at: datetime | None = None
           ) -> tuple[int, dict]:
    """Store a checked event in the caller's transaction: (HTTP status, JSON body); a repeated
    event id gets its first answer. The journal's replay calls this too, with the event's time."""
    site_id, event_id = checked.site.id, checked.event_id
    first = _first_answer(session, site_id, event_id)
    if first is not None:
        return 200, first
    site = session.get(AlarmSite, site_id)
    if site is None:
        raise LookupError(f"the button site {site_id} is gone")
    kind = checked.event
    result: dict = {"event_id": event_id, "event": kind}
    alarm = None
    if ALARM_KINDS[kind]:
        alarm, _ = take_alarm(session, runtime, AlarmIntake(
            source="button", kind=ALARM_KINDS[kind], category=ALARM_KINDS[kind], priority=PRIORITY_TOP,
            lat=site.lat, lon=site.lon, site_id=site.id, dedupe_key=f"button:{site.id}:{event_id}",
            message=f"{site.name}: {kind} button", raw=checked.body,
            flags={"silent": True} if kind == "duress" else {}, received_at=received_at,
        ))
        result.update(result="alarm", alarm=alarm_json(session, alarm))
    elif kind == "cancel":
        result.update(_note_cancel(session, site))
    else:
        result.update(result="seen")
    site.last_seen_at = received_at or utcnow()
    if site.offline:
        clear_offline(session, site)
    session.add(ButtonEvent(site_id=site.id, event_id=event_id, event=kind, sent_at=_sent_at(checked.ts),
                            alarm_id=alarm.id if alarm else None, result=result))
    session.flush()
    return (201 if alarm is not None else 200), result


def _first_answer(session: Session, site_id: int, event_id: str) -> dict | None:
    row = session.scalar(select(ButtonEvent).where(ButtonEvent.site_id == site_id, ButtonEvent.event_id == event_id))
    if row is None:
        return None
    return {**row.result, "repeated": True}


def _note_cancel(session: Session, site: AlarmSite) -> dict:
    """A cancel is shown on the site's open alarm but never closes it: a robber can force a cancel."""
    alarm = session.scalar(select(Alarm).where(Alarm.site_id == site.id, Alarm.source == "button",
                                               Alarm.state != "closed").order_by(Alarm.id.desc()).limit(1))
    if alarm is None:
        return {"result": "nothing_to_cancel"}
    flags = dict(alarm.flags or {})
    flags["cancel_requested_at"] = iso(utcnow())
    alarm.flags = flags
    session.flush()
    events.publish(session, "alarm.updated", alarm_json(session, alarm))
    return {"result": "cancel_noted", "alarm_id": alarm.id}
