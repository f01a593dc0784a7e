"""Server-Sent Events for the console."""

from flask import Blueprint

bp = Blueprint("events_api", __name__, url_prefix="/api/v1")
