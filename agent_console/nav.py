"""The console's navigation, in one list: each entry shows only to roles holding its scope.

Another area adds its pages by appending NavEntry rows here; an entry whose endpoint is not
registered in the app is left out, so the list can name pages before they exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for


@dataclass(frozen=True)
class NavEntry:
    endpoint: str  # Flask endpoint, e.g. "console.queue.index"
    label: str  # i18n key
    scope: str  # the principal must hold it to see the entry
    key: str | None = None  # keyboard shortcut, shown beside the label


ENTRIES: list[NavEntry] = [
    NavEntry("console.queue.index", "nav.queue", "calls:read", "q"),
    NavEntry("console.queue.callbacks", "nav.callbacks", "calls:read", "c"),
    NavEntry("console.incidents.index", "nav.incidents", "incidents:read", "i"),
    NavEntry("console.map.index", "nav.map", "incidents:read", "m"),
    NavEntry("supervisor.floor.index", "nav.supervisor", "floor:read"),
]


def entries_for(principal) -> list[dict]:
    """The entries this principal may see, with their URL and whether they are the current page."""
    if principal is None:
        return []
    shown = []
    for entry in ENTRIES:
        if entry.endpoint not in current_app.view_functions or not principal.can(entry.scope):
            continue
        shown.append({"url": url_for(entry.endpoint), "label": entry.label, "key": entry.key,
                      "current": request.endpoint == entry.endpoint})
    return shown
