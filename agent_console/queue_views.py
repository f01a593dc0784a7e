"""The queue page (waiting calls beside open alarms) and the call-back list."""

from __future__ import annotations

from flask import Blueprint, render_template

from agent_console import callback, present
from agent_console.pages import page
from siaga112 import events
from siaga112.web import db, runtime

bp = Blueprint("queue", __name__)


@bp.get("/")
@page("calls:read")
def index():
    # The event id is read before the data, so the page's stream replays anything in between.
    after = events.latest_id(db())
    state = {"calls": present.queue(db()), "alarms": present.open_alarms(db())}
    return render_template("queue/index.html", after=after, state=state)


@bp.get("/callbacks")
@page("calls:read")
def callbacks():
    after = events.latest_id(db())
    return render_template("queue/callbacks.html", after=after, calls=present.callbacks(db()),
                           callback_available=callback.available(runtime()))
