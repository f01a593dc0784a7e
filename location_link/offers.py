"""Links offered for alarms that came without a position: in the answer to a text, or texted after an SOS.

`center.web` provides an `AlarmLinkOffer` to routing through the runtime (routing never imports
this package). Sending after an SOS runs on its own thread, so the app's SOS is answered at once.
"""

from __future__ import annotations

import logging
import threading

from location_link import links
from siaga112.models import Alarm

log = logging.getLogger(__name__)


class AlarmLinkOffer:
    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def link_for_reply(self, session, alarm) -> str | None:
        return links.reply_link(session, self.runtime, alarm)

    def send_for_alarm(self, alarm_id: int) -> None:
        settings = self.runtime.settings
        if not settings.public_base_url or not settings.twilio_account_sid:
            log.info("alarm %s has no position; no location link sent (public_base_url or Twilio not set)", alarm_id)
            return
        threading.Thread(target=self._send, args=(alarm_id,), name=f"location-link-alarm-{alarm_id}",
                         daemon=True).start()

    def _send(self, alarm_id: int) -> None:
        try:
            with self.runtime.database.session() as session:
                alarm = session.get(Alarm, alarm_id)
                if alarm is None or alarm.lat is not None:
                    return
                links.create_and_send(session, self.runtime, alarm=alarm, via="sms", actor="sos")
        except Exception:  # noqa: BLE001 - the alarm stands; the call-taker can send one by hand
            log.exception("location link for alarm %s failed", alarm_id)


def provide(runtime) -> None:
    """Plug the offer into a runtime (called by `center.web`)."""
    from routing.alarms.offers import OFFER_CLIENT

    runtime.provide(OFFER_CLIENT, AlarmLinkOffer(runtime))
