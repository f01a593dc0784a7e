"""The supervisors' side of the console: the floor, monitoring, recordings, audit log, appeals,
administration and exports, each its own area under /supervisor.

Areas are nested blueprints (endpoints `supervisor.<area>.<view>`, templates in
`templates/supervisor/`); the table below is the only place they are added.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor", template_folder="templates",
               static_folder="static", static_url_path="/static")


def _areas():
    """Every supervisor area, in one explicit table."""
    from agent_console.supervisor.admin import bp as admin_area
    from agent_console.supervisor.audit_log import bp as audit_area
    from agent_console.supervisor.exports import bp as exports_area
    from agent_console.supervisor.floor import bp as floor_area
    from agent_console.supervisor.recordings import bp as recordings_area
    from agent_console.supervisor.reporters import bp as reporters_area

    return [floor_area, recordings_area, audit_area, reporters_area, admin_area, exports_area]


for _area in _areas():
    bp.register_blueprint(_area)


@bp.context_processor
def _helpers():
    """Time and number formatting for every supervisor page."""
    from agent_console.supervisor.common import template_helpers

    return template_helpers()
