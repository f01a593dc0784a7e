"""The call view: what a call-taker sees once a call is answered (or opened from the queue)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from agent_console import present
from agent_console.pages import page
from siaga112.models import Call
from siaga112.web import db, runtime

bp = Blueprint("calls", __name__)


@bp.get("/calls/<int:call_id>")
@page("calls:read")
def show(call_id: int):
    call = db().get(Call, call_id)
    if call is None:
        abort(404)
    return render_template("calls/show.html", call=present.call_detail(db(), call))
