"""The centre's words and clock: Bahasa Indonesia by default, English by choice, one time zone.

Messages are gettext catalogues (Babel's tooling, Flask-Babel in requests) in
`siaga112/translations/{id,en}/LC_MESSAGES/messages.po`, keyed by a message id that names the
thing (`queue.title`, `category.fire`, `error.unit_busy`), not by English source text: both
languages are translations, a missing word shows as its id (visible, never fatal), and page
scripts look words up by the same ids in the catalogue the page hands them as JSON.

Who reads what: a console user's choice this session, else their account's, else the centre's
`language`; a machine client may ask with `Accept-Language`. Text made outside a request (SMS
to agencies, the scheduler) is in the centre's language. Times are shown in the centre's
`timezone` in one format, on the server and in scripts alike.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, get_locale

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
TRANSLATIONS = Path(__file__).with_name("translations")
DOMAIN = "messages"

# One format for every date and time a person reads, server-rendered and in scripts
# (console.js `Siaga.clock` writes the same): ISO order, 24-hour clock, the centre's zone.
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%H:%M:%S"

babel = Babel()


def init_app(app: Flask, *, language: str = DEFAULT_LANGUAGE, zone: str = "Asia/Jakarta") -> None:
    """Bind Flask-Babel to the app with the centre's language and zone, and add the template words."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", language if language in LANGUAGES else DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", zone)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DOMAIN", DOMAIN)
    babel.init_app(app, locale_selector=language_of_request)
    app.jinja_env.globals.update(t=_, local_time=local_time)
    app.jinja_env.filters.update(local_time=local_time)


# ---- which language ----

def _centre_language() -> str:
    try:
        chosen = current_app.config.get("BABEL_DEFAULT_LOCALE")
    except RuntimeError:  # outside an app
        chosen = None
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def language_of_request() -> str:
    """The viewer's language: their toggle this session, else their account's, else the centre's.

    A client without a console session (a bearer token, a webhook) may ask with Accept-Language;
    a browser's Accept-Language is not asked, so a console starts in Bahasa Indonesia.
    """
    if not has_request_context():
        return _centre_language()
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and getattr(user, "language", None) in LANGUAGES:
        return user.language
    if g.get("user") is None and "user_id" not in session and request.headers.get("Accept-Language"):
        asked = request.accept_languages.best_match(LANGUAGES)
        if asked and (request.authorization is not None or request.path.startswith("/api/")):
            return asked
    return _centre_language()


def language() -> str:
    """The language of the text being made now: the request's, else the centre's."""
    if has_request_context():
        locale = get_locale()
        if locale is not None and locale.language in LANGUAGES:
            return locale.language
    return _centre_language()


# ---- words ----

@functools.cache
def translations(lang: str) -> Translations | NullTranslations:
    """The compiled catalogue of one language (loaded once per process)."""
    return Translations.load(str(TRANSLATIONS), [lang], domain=DOMAIN)


def translate(key: str, lang: str | None = None, /, **params) -> str:
    """The words for `key` in `lang` (default: the request's or the centre's), `%(name)s` filled in.

    An unknown key comes back as itself, so a gap is visible on the page, never an error.
    """
    text = translations(lang or language()).gettext(key)
    if params:
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            return text
    return text


def _(key: str, /, **params) -> str:
    """`translate` in the current language: the name Babel's extractor looks for."""
    return translate(key, None, **params)


def N_(key: str) -> str:  # noqa: N802 - gettext's marker name
    """Mark an id whose code is chosen at run time (`status.<code>`), so extraction keeps it."""
    return key


def known(key: str, lang: str | None = None) -> bool:
    return key in translations(lang or language())._catalog  # noqa: SLF001 - gettext's own table


def word(prefix: str, code: str | None, lang: str | None = None, fallback: str | None = None) -> str:
    """A code of a vocabulary (`category`, `unit_kind`, ...) as words; else `fallback`, else the code."""
    if code is None or code == "":
        return ""
    key = f"{prefix}.{code}"
    return translate(key, lang) if known(key, lang) else (fallback or str(code))


def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, id -> words, for the page's scripts."""
    table = translations(lang)._catalog  # noqa: SLF001 - gettext's own table
    return {key: text for key, text in table.items() if isinstance(key, str) and key}


# ---- messages kept as data ----
# Text the centre stores (history notes, routing warnings, audit details) is kept as a message:
# {"id": "history.dispatched", "params": {"units": ["DAMKAR-02"]}}, and put in words when read,
# in the reader's language. A parameter may itself be a message, a word of a vocabulary
# ({"word": ["agency", "damkar"]}), a list (joined as the language joins), or a plain value.

YES, NO = N_("word.yes"), N_("word.no")


def message(key: str, /, **params) -> dict:
    """A message to store, rendered later in whoever reads it's language."""
    return {"id": key, "params": params} if params else {"id": key}


class Problem(ValueError):
    """A refusal: its English sentence (logs, the command line) and `notice`, the same as a message
    a page puts in its reader's language."""

    def __init__(self, text: str, key: str, /, **params) -> None:
        super().__init__(text)
        self.notice = message(key, **params)


def say(error: BaseException, lang: str | None = None) -> str:
    """What went wrong, in the reader's language when the error carries its words, else as raised."""
    notice = getattr(error, "notice", None)
    return render(notice, lang) if is_message(notice) else str(error)


def is_message(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str)


def render(value, lang: str | None = None) -> str:
    """A stored message (or a plain string from before messages were stored) in words."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if is_message(value):
        params = {name: _param(v, lang) for name, v in (value.get("params") or {}).items()}
        return translate(value["id"], lang, **params).strip()
    return _param(value, lang)


def _param(value, lang: str | None) -> str:
    if value is None:
        return "–"
    if is_message(value):
        return render(value, lang)
    if isinstance(value, dict) and "word" in value:
        prefix, code = value["word"]
        return word(prefix, code, lang, fallback=value.get("label"))
    if isinstance(value, dict) and "or" in value:  # alternatives: "a, b atau c"
        return join([_param(item, lang) for item in value["or"]], lang, "word.list_or")
    if isinstance(value, (list, tuple)):
        if value and all(is_message(item) for item in value):  # sentences follow one another
            return " ".join(render(item, lang) for item in value)
        return join([_param(item, lang) for item in value], lang)
    if isinstance(value, bool):
        return translate(YES if value else NO, lang)
    if isinstance(value, float):
        return f"{value:.1f}" if not value.is_integer() else str(int(value))
    return str(value)


def join(items: list[str], lang: str | None = None, key: str = "word.list_and") -> str:
    """Items as a sentence lists them: "a, b dan c" / "a, b and c" (`word.list_or`: "atau" / "or")."""
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return translate(key, lang, head=", ".join(items[:-1]), last=items[-1])


def vocab(prefix: str, code: str | None, label: str | None = None) -> dict:
    """A vocabulary word to store inside a message's parameters."""
    return {"word": [prefix, code], "label": label} if label else {"word": [prefix, code]}


_PARAM = re.compile(r"%\((\w+)\)s")


def params_of(key: str, lang: str) -> set[str]:
    """The parameters a message takes (for the catalogue's own tests)."""
    return set(_PARAM.findall(translate(key, lang)))


# ---- the centre's clock ----

def zone() -> ZoneInfo:
    try:
        name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Jakarta"
    except RuntimeError:
        name = "Asia/Jakarta"
    return ZoneInfo(name)


def local_time(value: datetime | str | None, fmt: str = DATETIME_FORMAT, tz: ZoneInfo | None = None) -> str:
    """A stored UTC time (or an ISO string) on the centre's wall clock, in the one format."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz or zone()).strftime(fmt)


def zone_label(tz: ZoneInfo | None = None) -> str:
    """The centre's zone as people say it now (WIB in Jakarta)."""
    return datetime.now(timezone.utc).astimezone(tz or zone()).strftime("%Z")
