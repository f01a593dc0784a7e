"""Offering the person behind an unlocated alarm a way to share their position (a location link).

Routing does not know how such a link is made or sent: that lives in its own package, which
`center` plugs in through the runtime. Here routing only asks for whatever offer was provided
and goes on without one; an offer that fails is logged and never costs the alarm anything.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Protocol

log = logging.getLogger(__name__)

OFFER_CLIENT = "alarm_location_offer"


class LocationOffer(Protocol):
    def link_for_reply(self, session, alarm) -> str | None:
        """A link to put in the answer to a text (the caller commits), or None."""

    def send_for_alarm(self, alarm_id: int) -> None:
        """Text a link to the alarm's reporter, in the background."""


def location_offer(runtime) -> LocationOffer | None:
    """The offer `center` provided, or None where none is wired (the alarm goes on as before)."""
    return runtime.client(OFFER_CLIENT, lambda _settings: None)


def reply_sentence(runtime, session, alarm) -> str:
    """The sentence with a link to add to a text-to-112 answer, or "" (never raises)."""
    offer = location_offer(runtime)
    if offer is None or alarm.lat is not None:
        return ""
    try:
        # On PostgreSQL a failed statement spoils the transaction: a savepoint keeps the alarm's own.
        guard = session.begin_nested() if session.get_bind().dialect.name == "postgresql" else nullcontext()
        with guard:
            url = offer.link_for_reply(session, alarm)
    except Exception:  # noqa: BLE001 - the answer goes out without a link
        log.exception("no location link for alarm %s", alarm.id)
        return ""
    if not url:
        return ""
    from siaga112.i18n import LANGUAGES, translate

    language = runtime.settings.language if runtime.settings.language in LANGUAGES else LANGUAGES[0]
    return translate("sms.location_link", language, url=url)


def offer_for_unlocated(runtime, alarm) -> None:
    """Send a link to the reporter of an alarm that came without a position (never raises)."""
    offer = location_offer(runtime)
    if offer is None or alarm.lat is not None:
        return
    try:
        offer.send_for_alarm(alarm.id)
    except Exception:  # noqa: BLE001
        log.exception("no location link sent for alarm %s", alarm.id)
