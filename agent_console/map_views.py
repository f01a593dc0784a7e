"""The situation map: jurisdiction boundaries, units and open incidents."""

from __future__ import annotations

from flask import Blueprint, render_template

from agent_console.pages import page
from siaga112.web import db, runtime

bp = Blueprint("map", __name__)


@bp.get("/map")
@page("incidents:read")
def index():
    return render_template("map/index.html")
