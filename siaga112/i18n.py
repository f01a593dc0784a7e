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


def word(prefix: str, code: str | None, lang: str | None = None) -> str:
    """A code of a vocabulary (`category`, `unit_kind`, ...) as words; an unknown code as itself."""
    if code is None or code == "":
        return ""
    key = f"{prefix}.{code}"
    return translate(key, lang) if known(key, lang) else str(code)


def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, id -> words, for the page's scripts."""
    table = translations(lang)._catalog  # noqa: SLF001 - gettext's own table
    return {key: text for key, text in table.items() if isinstance(key, str) and key}


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
