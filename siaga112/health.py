"""Liveness and metrics: /healthz for the watchdog, /metrics in Prometheus text format."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import func, select, text

from siaga112.models import Alarm, Call

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    from siaga112.web import db, runtime

    body: dict = {"status": "ok", "database": "ok"}
    try:
        db().execute(text("SELECT 1"))
    except Exception:  # the watchdog needs an answer, not a traceback
        body.update(status="degraded", database="unreachable")
    # Health of optional parts (name -> function(runtime) -> dict), given by the app's maker.
    for name, check in current_app.extensions["siaga112.health_checks"].items():
        body[name] = check(runtime())
    return jsonify(body), 200 if body["database"] == "ok" else 503


@bp.get("/metrics")
def metrics():
    from siaga112.web import db

    lines = [
        "# HELP siaga112_calls Calls by state.",
        "# TYPE siaga112_calls gauge",
    ]
    for state, count in db().execute(select(Call.state, func.count()).group_by(Call.state)):
        lines.append(f'siaga112_calls{{state="{state}"}} {count}')
    lines += ["# HELP siaga112_alarms Alarms by state.", "# TYPE siaga112_alarms gauge"]
    for state, count in db().execute(select(Alarm.state, func.count()).group_by(Alarm.state)):
        lines.append(f'siaga112_alarms{{state="{state}"}} {count}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
