"""API errors: a slug for machines, a sentence for people in their language, never a traceback.

`code` never changes with the language; `message` is the sentence in the request's language
(siaga112.i18n): `words` (a stored message) when the raiser gave one, else the catalogue's
`error.<code>` for a code that means one thing everywhere, else the English sentence given.
"""

from __future__ import annotations

from flask import jsonify

from siaga112 import i18n


class ApiError(Exception):
    """An error the API answers with `{"error": {"code", "message"}}` and an HTTP status."""

    def __init__(self, status: int, code: str, message: str, *, words: dict | None = None, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.words = words
        self.extra = extra

    def response(self):
        body = {"error": {"code": self.code, "message": localised(self.code, self.message, self.words), **self.extra}}
        return jsonify(body), self.status


# Codes that mean one thing wherever they are raised, so the catalogue's `error.<code>` says it.
GENERIC = frozenset({"csrf", "internal", "invalid_json", "unauthenticated"})


def localised(code: str, english: str, words: dict | None = None) -> str:
    """The error's sentence in the request's language, or the English one when the catalogue lacks it."""
    lang = i18n.language()
    if words is None and code in GENERIC:
        words = i18n.message(f"error.{code}")
    if words is None or not i18n.known(words["id"], lang):
        return english
    if not i18n.params_of(words["id"], lang) <= set(words.get("params") or {}):
        return english
    return i18n.render(words, lang)


def bad_request(message: str, code: str = "invalid") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str = "There is no such record.", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)
