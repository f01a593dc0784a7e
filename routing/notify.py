"""SMS to agencies and units through Twilio, with every attempt recorded and failures retried.

A notification is stored as `queued` in the same transaction as the dispatch, then sent; a send
that fails is marked `failed` with the reason and a next attempt time, and the scheduled job
tries again with growing gaps. A refusal that cannot get better (a bad number) stops at once.
The console shows each notification's state, so nobody assumes a message arrived that did not.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siaga112 import events
from siaga112.db import iso, utcnow
from siaga112.models import Incident
from siaga112.models.incidents import Notification
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)

TWILIO_API_HOST = "https://api.twilio.com"
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 15 * 60
MAX_ATTEMPTS = 8
SMS_TIMEOUT_SECONDS = 10


def twilio_factory(settings):
    """Build the Twilio REST client; `twilio_api_base` points it elsewhere (a test recorder, a proxy)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class RebasedHttpClient(TwilioHttpClient):
        """Sends what the library would send to api.twilio.com to another base URL instead."""

        def __init__(self, base: str) -> None:
            super().__init__(timeout=SMS_TIMEOUT_SECONDS)
            self.base = base.rstrip("/")

        def request(self, method, url, *args, **kwargs):
            if self.base and url.startswith(TWILIO_API_HOST):
                url = self.base + url[len(TWILIO_API_HOST):]
            return super().request(method, url, *args, **kwargs)

    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise NotConfigured("SMS is not configured: set twilio_account_sid and twilio_auth_token.")
    return Client(settings.twilio_account_sid, settings.twilio_auth_token,
                  http_client=RebasedHttpClient(settings.twilio_api_base))


class NotConfigured(RuntimeError):
    """Twilio settings are missing; sends fail with this reason and are retried once fixed."""


def twilio_client(runtime: Runtime):
    """The runtime's one Twilio client (built on first use)."""
    return runtime.client("twilio", twilio_factory)


def queue(session: Session, incident: Incident, recipient: str, to_number: str, body: str) -> Notification:
    notification = Notification(incident_id=incident.id, recipient=recipient, to_number=to_number,
                                body=body, state="queued", attempts=0, next_attempt_at=utcnow())
    session.add(notification)
    session.flush()
    return notification


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min, ... up to 15 min between attempts."""
    return timedelta(seconds=min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def _refusal(error) -> tuple[str, bool]:
    """A short reason for the console and whether trying again could help."""
    from twilio.base.exceptions import TwilioRestException

    if isinstance(error, NotConfigured):
        return str(error), True
    if isinstance(error, TwilioRestException):
        permanent = 400 <= (error.status or 0) < 500 and error.status not in (401, 403, 408, 429)
        return f"Twilio answered HTTP {error.status} (code {error.code}): {str(error.msg)[:160]}", not permanent
    return f"Could not reach Twilio: {type(error).__name__}", True


def attempt(runtime: Runtime, session: Session, notification: Notification) -> bool:
    """Send one notification now and record the outcome; True when Twilio accepted it."""
    notification.attempts += 1
    try:
        message = twilio_client(runtime).messages.create(
            to=notification.to_number, from_=runtime.settings.twilio_from_number, body=notification.body)
    except Exception as error:  # noqa: BLE001 - every failure is recorded and, if it can help, retried
        reason, retry = _refusal(error)
        notification.state, notification.last_error = "failed", reason[:300]
        if retry and notification.attempts < MAX_ATTEMPTS:
            notification.next_attempt_at = utcnow() + retry_delay(notification.attempts)
        else:
            notification.next_attempt_at = None
        log.warning("SMS %s to %s failed (attempt %d): %s", notification.id, notification.recipient,
                    notification.attempts, reason)
        return False
    notification.state, notification.provider_id = "sent", getattr(message, "sid", None)
    notification.sent_at, notification.next_attempt_at, notification.last_error = utcnow(), None, None
    return True


def deliver(runtime: Runtime, notification_ids: list[int]) -> None:
    """Send freshly queued notifications, each in its own transaction, and tell the consoles."""
    incidents = set()
    for notification_id in notification_ids:
        with runtime.database.session() as session:
            notification = session.get(Notification, notification_id)
            if notification is None or notification.state == "sent":
                continue
            attempt(runtime, session, notification)
            incidents.add(notification.incident_id)
    _announce(runtime, incidents)


def retry_due(runtime: Runtime) -> int:
    """Scheduled: try again every queued or failed notification whose next attempt is due."""
    with runtime.database.session() as session:
        due = list(session.scalars(
            select(Notification.id).join(Incident, Incident.id == Notification.incident_id)
            .where(Notification.state.in_(("queued", "failed")), Notification.next_attempt_at.is_not(None),
                   Notification.next_attempt_at <= utcnow(), Incident.status.not_in(ENDED_STATES))
            .order_by(Notification.next_attempt_at).limit(200)))
    deliver(runtime, due)
    return len(due)


ENDED_STATES = ("closed", "false_report")
STOPPED_REASON = "Not retried: the incident is closed."


def stop_retries(session: Session, incident_id: int) -> int:
    """An incident closed: its unsent SMS are not tried again (a unit must not set out for it later)."""
    pending = list(session.scalars(select(Notification).where(
        Notification.incident_id == incident_id, Notification.state.in_(("queued", "failed")))))
    for notification in pending:
        notification.state, notification.next_attempt_at = "failed", None
        notification.last_error = STOPPED_REASON
    return len(pending)


def failure_kind(notification: Notification) -> str | None:
    """Why a send failed, as a code a console words in its reader's language (the stored reason
    is the technician's English): not_configured, refused, unreachable, stopped."""
    reason = notification.last_error or ""
    if notification.state != "failed":
        return None
    if reason.startswith("Not retried"):
        return "stopped"
    if reason.startswith("SMS is not configured"):
        return "not_configured"
    if reason.startswith("Twilio answered"):
        return "refused"
    return "unreachable"


def retry_now(runtime: Runtime, session: Session, notification: Notification) -> None:
    """A person asked to send a failed SMS again: it goes out now, with a fresh count of attempts."""
    incident = session.get(Incident, notification.incident_id)
    if notification.state == "sent":
        raise ValueError("already_sent")
    if incident is not None and incident.status in ENDED_STATES:
        raise ValueError("incident_closed")
    notification.state, notification.attempts, notification.next_attempt_at = "queued", 0, utcnow()
    session.commit()
    deliver(runtime, [notification.id])


def _announce(runtime: Runtime, incident_ids: set[int]) -> None:
    if not incident_ids:
        return
    with runtime.database.session() as session:
        for incident_id in incident_ids:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                events.publish(session, "incident.updated", {
                    "id": incident.id, "status": incident.status, "notifications": notification_summary(session, incident.id)})


def notification_summary(session: Session, incident_id: int) -> dict:
    states = [n.state for n in session.scalars(select(Notification).where(Notification.incident_id == incident_id))]
    return {state: states.count(state) for state in ("queued", "sent", "failed")}


def notification_to_dict(notification: Notification) -> dict:
    return {
        "id": notification.id,
        "recipient": notification.recipient,
        "to": notification.to_number,
        "body": notification.body,
        "state": notification.state,
        "attempts": notification.attempts,
        "last_error": notification.last_error,
        "next_attempt_at": iso(notification.next_attempt_at),
        "gave_up": notification.state == "failed" and notification.next_attempt_at is None,
        "sent_at": iso(notification.sent_at),
        "created_at": iso(notification.created_at),
    }
