"""Recording playback for supervisors."""

from flask import Blueprint

bp = Blueprint("recordings_api", __name__, url_prefix="/api/v1")
