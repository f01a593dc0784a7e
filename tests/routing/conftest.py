"""Fixtures of the routing tests: the demo city and rules, a DC-09 receiver, a Twilio recorder."""

from tests.support.alarm_helpers import receiver  # noqa: F401  (fixture)
from tests.support.routing_data import demo_city, rules  # noqa: F401  (fixtures)
from tests.support.twilio_recorder import twilio_recorder  # noqa: F401  (fixture)
