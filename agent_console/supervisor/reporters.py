"""Reporters' appeals: blocked numbers asking to be unblocked, granted or refused by a supervisor.

The decision itself (unblock, strikes reset, audit entry) is routing's `decide_appeal`, the same
function the JSON API uses, so the page and the API cannot disagree.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from agent_console import i18n
from agent_console.pages import page
from agent_console.supervisor.common import client_ip
from routing import reporters
from siaga112.web import db

bp = Blueprint("reporters", __name__, url_prefix="/reporters")


@bp.get("")
@page("reporters:manage")
def index():
    """Pending appeals first, then every blocked reporter."""
    pending = reporters.list_reporters(db(), appeal_state="pending")
    blocked = [r for r in reporters.list_reporters(db(), blocked=True) if r.appeal_state != "pending"]
    return render_template("supervisor/reporters.html", pending=pending, blocked=blocked)


@bp.post("/<path:phone>/appeal")
@page("reporters:manage")
def decide(phone: str):
    """Grant or refuse one pending appeal, with an optional note to the reporter."""
    decision = request.form.get("decision")
    if decision not in ("grant", "refuse"):
        flash(i18n.translate("sv.reporters.choose"), "error")
        return redirect(url_for("supervisor.reporters.index"))
    try:
        reporters.decide_appeal(db(), phone, grant=decision == "grant", actor=g.user.username,
                                actor_id=g.user.id, note=request.form.get("note"), ip=client_ip())
    except reporters.ReporterError as error:
        db().rollback()
        flash(error.message, "error")
    else:
        db().commit()
        flash(i18n.translate("sv.reporters.granted") if decision == "grant" else i18n.translate("sv.reporters.refused"), "ok")
    return redirect(url_for("supervisor.reporters.index"))
