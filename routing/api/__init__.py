"""HTTP API of routing: incidents, alarms, units, reporters, Open311, text-to-112."""

from routing.api.cameras import bp as cameras_bp
from routing.api.incidents import bp as incidents_bp
from routing.api.units import bp as units_bp
from routing.api.alarms import bp as alarms_bp
from routing.api.buttons import bp as buttons_bp
from routing.api.open311 import bp as open311_bp, reports_bp
from routing.api.reporters import bp as reporters_bp
from routing.api.sms import bp as sms_bp
from routing.api.sos import bp as sos_bp

blueprints: list = [incidents_bp, units_bp, cameras_bp,
                    alarms_bp, sos_bp, buttons_bp, sms_bp, open311_bp, reports_bp, reporters_bp]
