"""The queue page (waiting calls beside open alarms) and the call-back list."""

from __future__ import annotations

from flask import Blueprint, render_template

from agent_console import callback, present
from agent_console.pages import page
from siaga112.web import db, runtime

bp = Blueprint("queue", __name__)


@bp.get("/")
@page("calls:read")
def index():
    state = {"calls": present.queue(db()), "alarms": present.open_alarms(db())}
    return render_template("queue/index.html", state=state)


@bp.get("/callbacks")
@page("calls:read")
def callbacks():
    return render_template("queue/callbacks.html", calls=present.callbacks(db()),
                           callback_available=callback.available(runtime()))
