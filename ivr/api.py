"""The calls API: the live queue, one call, and AML locations from handsets."""

from flask import Blueprint

bp = Blueprint("calls_api", __name__, url_prefix="/api/v1")
