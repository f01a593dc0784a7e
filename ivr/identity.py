"""Who is calling: the caller's number in E.164 and their name, both as the network sent them.

Caller ID is set by the caller's network or phone, so everything here is untrusted text: a
number that is not a number becomes None (the call goes on, unidentified), and a name keeps
only printable characters up to a length the console can show. Names are never interpreted;
the console escapes them (`<script>` stays the text "<script>").
"""

from __future__ import annotations

import logging
import unicodedata

import phonenumbers

log = logging.getLogger(__name__)

NAME_MAX_CHARS = 80
RAW_NUMBER_MAX_CHARS = 64
# What Asterisk sends when there is no caller ID (see AGI-NOTES: `agi_callerid: unknown`).
_ABSENT = {"", "unknown", "anonymous", "restricted", "private", "unavailable", "withheld"}


def clean_text(value: str | None, limit: int) -> str | None:
    """Printable text only (no NUL, control or format characters), trimmed and capped; None if empty."""
    if value is None:
        return None
    # isprintable() is False for every control and format character (and line separators).
    kept = value if value.isprintable() else "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    kept = " ".join(kept.split())[:limit].strip()
    return kept or None


def caller_number(raw: str | None, region: str) -> str | None:
    """The caller's number in E.164, or None when withheld, absent or not a phone number."""
    text = clean_text(raw, RAW_NUMBER_MAX_CHARS)
    if text is None or text.lower() in _ABSENT:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        log.info("caller ID %r is not a phone number; the call goes on unidentified", text)
        return None
    if not phonenumbers.is_possible_number(number):
        log.info("caller ID %r is not a possible phone number; the call goes on unidentified", text)
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def caller_name(raw: str | None) -> str | None:
    """The caller's name as display text, or None when absent."""
    name = clean_text(raw, NAME_MAX_CHARS)
    if name is None or name.lower() in _ABSENT:
        return None
    return name


def normalise_number(raw: str, region: str) -> str | None:
    """A phone number from any other source (AML, API path) in E.164, or None."""
    return caller_number(raw, region)
