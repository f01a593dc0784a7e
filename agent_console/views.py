"""The console blueprint: static files, the page frame every console page shares, and its areas.

Each area is its own blueprint nested under this one (so endpoints read `console.<area>.<view>`
and templates live in `templates/<area>/`); the list below is the only place they are added.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template

from agent_console import i18n, nav

bp = Blueprint("console", __name__, static_folder="static", static_url_path="/static")


def _areas():
    """Every console area, in one explicit table."""
    from agent_console.auth_views import bp as auth_area
    from agent_console.calls_views import bp as calls_area
    from agent_console.console_api import bp as console_api
    from agent_console.incidents_views import bp as incidents_area
    from agent_console.map_views import bp as map_area
    from agent_console.queue_views import bp as queue_area
    from agent_console.tiles import bp as tiles_area

    return [auth_area, queue_area, calls_area, incidents_area, map_area, console_api, tiles_area]


for _area in _areas():
    bp.register_blueprint(_area)


@bp.app_context_processor
def _frame():
    """What base.html needs on every page: who is signed in, their language, the nav, the words."""
    lang = i18n.language()
    principal = g.get("principal")
    return {
        "lang": lang,
        "t": lambda key, **params: i18n.translate(key, lang, **params),
        "word": lambda prefix, code: i18n.word(prefix, code, lang),
        "worded": lambda pairs, prefix: [(i18n.word(prefix, code, lang) if code else code, n) for code, n in pairs],
        "user": g.get("user"),
        "principal": principal,
        "nav_entries": nav.entries_for(principal),
        "js_messages": i18n.catalogue(lang),
        "timezone": i18n.zone().key,
        "console_settings": _console_settings() if g.get("user") is not None else {},
        "events_after": g.get("events_after"),  # where the page's event stream starts (siaga112.web.follows_events)
    }


def error_page(status: int, text: str):
    """A failed page in the console's frame and the viewer's language (the frame calls it)."""
    return render_template("error.html", status=status, text=text), status


@bp.record_once
def _set_error_page(state) -> None:
    state.app.extensions["siaga112.error_page"] = error_page


def _console_settings() -> dict:
    """What every console page's script needs of the settings: the base map, the answer targets."""
    from agent_console.tiles import tile_settings
    from siaga112.web import runtime

    settings = runtime().settings
    return {"tiles": tile_settings(), "wait_warn_s": settings.answer_warn_seconds,
            "wait_late_s": settings.answer_late_seconds}
