"""An audit entry in the reader's words: the action named, its target, and each detail as
"label: value", values that are codes in their vocabulary's words, times on the centre's clock,
lists joined, empty values left out (never a Python repr such as "note None" or "['DAMKAR-02']").

What is stored stays as it was recorded (a code, a dict of plain values), so the log reads in
either language and the filters still match the codes.
"""

from __future__ import annotations

import re
from datetime import datetime

from siaga112 import i18n

# Which vocabulary a detail's value belongs to, by action (prefix) and key; "*" for any action.
VALUE_WORDS = {
    ("incident.status", "from"): "status", ("incident.status", "to"): "status",
    ("incident.dispatch", "from"): "status",
    ("*", "category"): "category", ("*", "role"): "role", ("*", "source"): "fix_source",
    ("admin.unit", "kind"): "unit_kind", ("admin.unit", "status"): "unit_status", ("admin.unit", "agency"): "agency",
    ("recording", "kind"): "sv.rec.kind", ("*", "result"): "audit.result", ("*", "copy"): "audit.copy",
}
SYSTEM = i18n.N_("audit.actor.system")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def action_words(action: str) -> str:
    return i18n.word("audit.action", action)


def actor_words(actor: str | None) -> str:
    """Who did it: a person's or token's name as stored; the centre itself ("system") in words."""
    if actor in (None, "", "-"):
        return "–"
    return i18n.translate(SYSTEM) if actor == "system" else actor


def target_words(target: str | None) -> str:
    """`incident:5` as "Insiden #5" / "Incident #5"; anything else as stored."""
    if not target:
        return ""
    kind, _, ident = target.partition(":")
    if not ident or not i18n.known(f"audit.target.{kind}"):
        return target
    key = f"audit.target.{kind}"
    return i18n.translate(key, ident=ident)


def detail_words(action: str, detail) -> list[tuple[str, str]]:
    """(label, value) for each detail worth showing, in the reader's language."""
    if not isinstance(detail, dict):
        return [("", _value(action, "", detail))] if detail not in (None, "", [], {}) else []
    shown = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict) and key in ("before", "after"):
            inner = "; ".join(f"{label} {text}" for label, text in detail_words(action, value))
            if inner:
                shown.append((_label(key), inner))
            continue
        shown.append((_label(key), _value(action, key, value)))
    return shown


def _label(key: str) -> str:
    return i18n.word("audit.detail", key)


def _vocabulary(action: str, key: str) -> str | None:
    for (scope, name), prefix in VALUE_WORDS.items():
        if name == key and (scope == "*" or action == scope or action.startswith(scope + ".")):
            return prefix
    return None


def _value(action: str, key: str, value) -> str:
    if isinstance(value, bool):
        return i18n.translate(i18n.YES if value else i18n.NO)
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(action, key, item) for item in value if item not in (None, ""))
    if isinstance(value, dict):
        if i18n.is_message(value):
            return i18n.render(value)
        return "; ".join(f"{label} {text}" for label, text in detail_words(action, value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_TIME.match(value)):
        return i18n.local_time(value)
    prefix = _vocabulary(action, key)
    if prefix and isinstance(value, str):
        return i18n.word(prefix, value)
    return str(value)
