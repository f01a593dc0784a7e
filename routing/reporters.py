"""Reporters: points for reports confirmed true, strikes for false ones, blocks and appeals.

A block only ever stops non-emergency reports (Open311). An SOS or a text to 112 from a
blocked reporter is still taken: it is marked and lowered, never refused, because the one
true emergency of a known prankster must still reach a call-taker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112 import audit
from siaga112.db import iso, utcnow
from siaga112.models import Alarm, Incident, Reporter, ServiceRequest

log = logging.getLogger(__name__)

DEFAULT_STRIKE_LIMIT = 3
APPEAL_MAX_CHARS = 2000


class ReporterError(ValueError):
    """A refusal a person can act on; `code` is the API slug, `status` the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def normalize_phone(raw, region: str = "ID") -> str:
    """The number in E.164 (+62...), or ValueError: a reporter is known by their number."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("A phone number is needed.")
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError("The phone number could not be read.") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("The phone number is not a possible number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find(session: Session, phone: str) -> Reporter | None:
    return session.scalar(select(Reporter).where(Reporter.phone == phone))


def get_or_create(session: Session, phone: str, *, name: str | None = None,
                  app_user_id: str | None = None) -> Reporter:
    """The reporter with this E.164 number, made on first contact; newer name/app id win."""
    reporter = find(session, phone)
    if reporter is None:
        reporter = Reporter(phone=phone, name=name, app_user_id=app_user_id, points=0, strikes=0, blocked=False)
        session.add(reporter)
        session.flush()
        return reporter
    if name:
        reporter.name = name
    if app_user_id:
        reporter.app_user_id = app_user_id
    return reporter


def appeal_path(phone: str) -> str:
    return f"/api/v1/reporters/{phone}/appeal"


def blocked_message(reporter: Reporter) -> str:
    """The sentence a blocked reporter reads: why, and exactly how to appeal."""
    if reporter.appeal_state == "pending":
        return ("This number is blocked from non-emergency reports after reports closed as false. "
                "Your appeal is being reviewed. For an emergency, call or text 112: that is never blocked.")
    return ("This number is blocked from non-emergency reports after reports closed as false. "
            f"To appeal, send POST {appeal_path(reporter.phone)} with a short explanation. "
            "For an emergency, call or text 112: that is never blocked.")


@dataclass
class Outcome:
    """What closing one report did to its reporter."""

    reporter_id: int
    points: int
    strikes: int
    blocked: bool
    newly_blocked: bool


def record_outcome(session: Session, reporter: Reporter, *, false_report: bool,
                   strike_limit: int = DEFAULT_STRIKE_LIMIT) -> Outcome:
    """A point for a true report, a strike for a false one; the strike limit blocks."""
    newly_blocked = False
    if false_report:
        reporter.strikes = (reporter.strikes or 0) + 1
        if reporter.strikes >= strike_limit and not reporter.blocked:
            reporter.blocked = True
            reporter.blocked_at = utcnow()
            newly_blocked = True
    else:
        reporter.points = (reporter.points or 0) + 1
    return Outcome(reporter.id, reporter.points, reporter.strikes, reporter.blocked, newly_blocked)


def on_incident_closed(session: Session, incident: Incident, false_report: bool, *,
                       strike_limit: int = DEFAULT_STRIKE_LIMIT) -> list[Outcome]:
    """Credit or strike the reporters behind an incident's alarms and reports, once per report.

    Called by the incidents code when an incident is closed (true) or marked false_report.
    Each alarm or service request carries its own "outcome recorded" mark, so closing,
    reopening and closing again never counts twice.
    """
    outcomes: list[Outcome] = []
    verdict = "false_report" if false_report else "confirmed"
    alarms = session.scalars(select(Alarm).where(Alarm.incident_id == incident.id,
                                                 Alarm.reporter_id.is_not(None))).all()
    for alarm in alarms:
        flags = dict(alarm.flags or {})
        if flags.get("reporter_outcome"):
            continue
        flags["reporter_outcome"] = verdict
        alarm.flags = flags
        outcomes.append(record_outcome(session, session.get(Reporter, alarm.reporter_id),
                                       false_report=false_report, strike_limit=strike_limit))
    requests = session.scalars(select(ServiceRequest).where(ServiceRequest.incident_id == incident.id)).all()
    for request in requests:
        if request.status != "closed":
            request.status = "closed"
            request.closed_at = utcnow()
            request.status_notes = request.status_notes or (
                "Closed: the report could not be confirmed." if false_report else "Closed: handled.")
        if request.outcome or request.reporter_id is None:
            request.outcome = request.outcome or verdict
            continue
        request.outcome = verdict
        outcomes.append(record_outcome(session, session.get(Reporter, request.reporter_id),
                                       false_report=false_report, strike_limit=strike_limit))
    for outcome in outcomes:
        if outcome.newly_blocked:
            log.info("reporter %s blocked after %s strikes", outcome.reporter_id, outcome.strikes)
    return outcomes


def appeal(session: Session, phone: str, text: str | None) -> Reporter:
    """A blocked reporter asks to be unblocked; one pending appeal at a time."""
    reporter = find(session, phone)
    if reporter is None:
        raise ReporterError(404, "unknown_reporter", "There is no reporter with this number.")
    if not reporter.blocked:
        raise ReporterError(409, "not_blocked", "This number is not blocked; there is nothing to appeal.")
    if reporter.appeal_state == "pending":
        raise ReporterError(429, "appeal_pending",
                            "An appeal for this number is already waiting for a supervisor; only one at a time.")
    text = (text or "").strip()
    if len(text) > APPEAL_MAX_CHARS:
        raise ReporterError(400, "appeal_too_long", f"Keep the appeal under {APPEAL_MAX_CHARS} characters.")
    reporter.appeal_state = "pending"
    reporter.appeal_text = text or None
    reporter.appeal_at = utcnow()
    reporter.appeal_decided_at = None
    reporter.appeal_decided_by = None
    reporter.appeal_note = None
    return reporter


def decide_appeal(session: Session, phone: str, *, grant: bool, actor: str, actor_id: int | None = None,
                  note: str | None = None, ip: str | None = None) -> Reporter:
    """A supervisor grants (unblock, strikes back to zero) or refuses a pending appeal; audited."""
    reporter = find(session, phone)
    if reporter is None:
        raise ReporterError(404, "unknown_reporter", "There is no reporter with this number.")
    if reporter.appeal_state != "pending":
        raise ReporterError(409, "no_pending_appeal", "This number has no appeal waiting for a decision.")
    before = {"strikes": reporter.strikes, "blocked": reporter.blocked}
    reporter.appeal_state = "granted" if grant else "refused"
    reporter.appeal_decided_at = utcnow()
    reporter.appeal_decided_by = actor
    reporter.appeal_note = (note or "").strip() or None
    if grant:
        reporter.blocked = False
        reporter.blocked_at = None
        reporter.strikes = 0
    audit.record(session, actor, "reporter.appeal." + ("grant" if grant else "refuse"), f"reporter:{reporter.phone}",
                 detail={"before": before, "note": reporter.appeal_note}, actor_id=actor_id, ip=ip)
    return reporter


def list_reporters(session: Session, *, blocked: bool | None = None, appeal_state: str | None = None,
                   limit: int = 200) -> list[Reporter]:
    query = select(Reporter).order_by(Reporter.appeal_at.desc().nulls_last(), Reporter.id.desc()).limit(limit)
    if blocked is not None:
        query = query.where(Reporter.blocked.is_(blocked))
    if appeal_state:
        query = query.where(Reporter.appeal_state == appeal_state)
    return list(session.scalars(query))


def public_view(reporter: Reporter) -> dict:
    """What a reporter may see of their own standing."""
    return {
        "phone": reporter.phone,
        "blocked": reporter.blocked,
        "appeal": {"state": reporter.appeal_state, "at": iso(reporter.appeal_at),
                   "decided_at": iso(reporter.appeal_decided_at), "note": reporter.appeal_note},
    }


def to_json(reporter: Reporter) -> dict:
    """The supervisor's view of a reporter."""
    return {
        "id": reporter.id,
        "phone": reporter.phone,
        "name": reporter.name,
        "app_user_id": reporter.app_user_id,
        "points": reporter.points,
        "strikes": reporter.strikes,
        "blocked": reporter.blocked,
        "blocked_at": iso(reporter.blocked_at),
        "appeal": {
            "state": reporter.appeal_state, "text": reporter.appeal_text, "at": iso(reporter.appeal_at),
            "decided_at": iso(reporter.appeal_decided_at), "decided_by": reporter.appeal_decided_by,
            "note": reporter.appeal_note,
        },
        "created_at": iso(reporter.created_at),
    }
