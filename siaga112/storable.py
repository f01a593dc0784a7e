"""Text from outside made storable on every database, at one boundary.

PostgreSQL refuses NUL in text (`PostgreSQL text fields cannot contain NUL (0x00) bytes`) and
in JSON text, UTF-8 has no lone surrogates (what `json.loads('"\\ud800"')` gives), and a
`varchar(16)` refuses a 17th character; SQLite takes all of that. So an SOS with a NUL in its
name, or a panel frame with one inside a valid CRC, was stored on one database and lost on the
other. No emergency may be refused for what its text contains, so:

- `clean(value, limit)` is for text people read (names, messages, descriptions): control and
  format characters, NUL and lone surrogates are removed, blanks collapsed, length capped.
- `evidence(value, limit)` is for what must be kept as it came (a raw frame or body, an
  identifier a device repeats): each unstorable or control character is written as an escape
  (`\\x00`, `\\x1b`, `\\ud800`), so nothing is lost and two different inputs stay different.
- `StorableString` is the net under both, on every String and Text column of the models
  (`guard_columns`): NUL and lone surrogates escaped, values capped at the column's length, on
  every write and every comparison, so a lookup finds what was stored. `storable_json` does
  the same for JSON columns and for batches sent as JSON documents (`siaga112.bulk`).
"""

from __future__ import annotations

import re

from sqlalchemy import String, Text
from sqlalchemy.types import TypeDecorator

# What no database column can hold: NUL, and surrogates (only ever lone ones in a Python str).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Control characters (C0, DEL, C1), format characters that can hide or reorder text (bidi
# overrides, zero-width), and the unstorable ones.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
                      "\ufeff\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_BLANKS = re.compile(r"[ \t\x0b\x0c]+")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value, limit: int | None = None, *, multiline: bool = False) -> str | None:
    """Readable text: no control, format or unstorable characters, blanks collapsed, capped; None if empty.

    `multiline` keeps line breaks (a description, a message); otherwise they become spaces.
    """
    if value is None:
        return None
    text = str(value)
    if multiline:
        text = _LINE_BREAKS.sub("\n", text)
        text = "\n".join(_BLANKS.sub(" ", _CONTROL.sub("", line.replace("\t", " "))).strip()
                         for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
    else:
        text = " ".join(_CONTROL.sub("", _LINE_BREAKS.sub(" ", text)).split())
    if limit is not None:
        text = text[:limit].rstrip()
    return text or None


def evidence(value, limit: int | None = None) -> str | None:
    """The text as it came, with each control or unstorable character escaped; capped."""
    if value is None:
        return None
    text = str(value)
    text = _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text
    return text[:limit] if limit is not None else text


def column_safe(value: str, limit: int | None = None) -> str:
    """What any column can hold: NUL and lone surrogates escaped, capped at `limit`."""
    if _UNSTORABLE.search(value):
        value = _UNSTORABLE.sub(_escape, value)
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


# A JSON `\u0000` escape not itself escaped (preceded by an even number of backslashes), and
# the escapes of surrogates that pair with nothing.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def storable_json(document: str) -> str:
    """A JSON text PostgreSQL can keep and read: `\\u0000` escapes become the text `\\x00`."""
    if "\\u0000" not in document:
        return document
    return _JSON_NUL.sub(lambda m: m.group(1) + "\\\\x00", document)


def storable_values(value):
    """`value` (a JSON-able structure) with every string made column-safe; for encoders that
    refuse lone surrogates (orjson)."""
    if isinstance(value, str):
        return column_safe(value)
    if isinstance(value, dict):
        return {storable_values(k) if isinstance(k, str) else k: storable_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_values(v) for v in value]
    return value


class StorableString(TypeDecorator):
    """A String or Text column that never refuses a value for its characters or its length."""

    impl = String
    cache_ok = True

    def __init__(self, length: int | None = None, *, text: bool = False, **kwargs) -> None:
        super().__init__(length, **kwargs)
        self.text = text
        self.limit = length

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(Text() if self.text else String(self.limit))

    def process_bind_param(self, value, dialect):
        if value is None or not isinstance(value, str):
            return value
        return column_safe(value, self.limit)

    def coerce_compared_value(self, op, value):
        return self

    def copy(self, **kw):
        return StorableString(self.limit, text=self.text)


def guard_columns(metadata) -> None:
    """Put `StorableString` under every String and Text column of `metadata` (once, at import)."""
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type
            if isinstance(kind, StorableString) or not isinstance(kind, String):
                continue
            if type(kind) not in (String, Text):
                continue  # Enum and other String subclasses keep their own types
            column.type = StorableString(kind.length, text=isinstance(kind, Text))


def column_limits(table) -> dict[str, int | None]:
    """Each guarded column of `table` and its length (None: Text)."""
    return {column.name: column.type.limit for column in table.columns if isinstance(column.type, StorableString)}
