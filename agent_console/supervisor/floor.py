"""The floor at a glance, and live monitoring of a call-taker's call (listen, whisper, barge)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from agent_console import ami, i18n, stats
from agent_console.pages import page
from agent_console.supervisor.common import ami_message, client_ip, now
from siaga112.health import component_alerts
from siaga112.models import Call
from siaga112.web import db, runtime

bp = Blueprint("floor", __name__)


@bp.get("/")
@page("floor:read")
def index():
    """Queue, people, answer times against targets, and incidents for the chosen period."""
    name = request.args.get("period", "today")
    if name not in stats.PERIODS:
        name = "today"
    settings, moment = runtime().settings, now()
    span = stats.period(name, moment, settings.timezone)
    targets = {10: settings.answer_target_10s, 15: settings.answer_target_15s, 20: settings.answer_target_20s}
    return render_template("supervisor/floor.html", floor=stats.floor(db(), span, moment), targets=targets,
                           periods=stats.PERIODS, modes=ami.MONITOR_OPTIONS, storage=storage_alerts())


def storage_alerts() -> list[dict]:
    """The parts whose health needs a person now (a recordings disk filling up, calls waiting in
    the journal), as /healthz reports them: the floor is where a supervisor sees it."""
    alerts = []
    for name, (check, alert) in component_alerts(runtime()).items():
        if alert:
            alerts.append({"name": name, "alert": alert, "status": check.get("status"),
                           "free_percent": check.get("free_percent"), "path": check.get("path"),
                           "write_error": check.get("write_error"), "waiting": check.get("waiting"),
                           "failed_last_hour": check.get("failed_last_hour")})
    return alerts


@bp.post("/calls/<int:call_id>/monitor")
@page("monitor")
def monitor(call_id: int):
    """Ring the supervisor's phone into the call (ChanSpy); the AMI module audits each use."""
    call = db().get(Call, call_id) or abort(404)
    mode = request.form.get("mode", "")
    if mode not in ami.MONITOR_OPTIONS:
        abort(400)
    try:
        ami.monitor(runtime(), g.user, call, mode, ip=client_ip())
    except ami.AmiError as error:
        flash(ami_message(error), "error")
    else:
        started = f"sv.monitor.started.{mode}"  # the ids are in siaga112.vocabulary
        flash(i18n.translate(started), "ok")
    return redirect(url_for("supervisor.floor.index", period=request.form.get("period", "today")))
