"""The console's words: the centre's catalogue (`siaga112.i18n`), seen from the console.

Pages use `t("key")` (or `_("key")`), Python `_("key", name=value)` from `siaga112.i18n`,
scripts `Siaga.t("key")` over the catalogue each page hands them as JSON. The words themselves
live in `siaga112/translations/{id,en}/LC_MESSAGES/messages.po` (see `scripts/translations`).
"""

from __future__ import annotations

from siaga112.i18n import LANGUAGES, catalogue, known, language, local_time, say, translate, word, zone

__all__ = ["LANGUAGES", "catalogue", "known", "language", "local_time", "say", "translate", "word", "zone"]
