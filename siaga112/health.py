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
    # A part that says `alert` (a disk filling up, recordings failing) makes the whole
    # `degraded`, though calls still flow: someone must look before records are lost.
    alerts = component_alerts(runtime())
    for name, (check, alert) in alerts.items():
        body[name] = check
    if any(alert for _check, alert in alerts.values()):
        body["status"] = "degraded"
        body["alerts"] = sorted(name for name, (_check, alert) in alerts.items() if alert)
    return jsonify(body), 200 if body["database"] == "ok" else 503


def component_alerts(runtime) -> dict[str, tuple[dict, str | None]]:
    """Each registered part's health and its alert (`warning`, `critical` or None); a check that
    breaks is itself a critical alert, never a 500."""
    results = {}
    for name, check in current_app.extensions["siaga112.health_checks"].items():
        try:
            result = check(runtime)
        except Exception as error:
            result = {"status": "failing", "alert": "critical", "reason": error.__class__.__name__}
        results[name] = (result, result.get("alert") if isinstance(result, dict) else None)
    return results


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
