"""The centre's catalogue: every id the code uses has words in both languages, and the compiled
catalogues the app reads are the ones the .po files say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from siaga112 import i18n

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "t": None, "N_": None, "translate": None, "gettext": None, "lazy_gettext": None}
# Calls Babel's JavaScript reader cannot see: inside template literals (`${t("...")}`).
LITERAL_CALL = re.compile(r"""\b(?:t|_|translate)\(\s*['"]([a-z0-9_]+(?:\.[a-z0-9_\-]+)+)['"]""")


def _po(lang: str):
    with open(i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=lang)


def used_ids() -> set[str]:
    """Every id the code names: Babel's extraction (babel.cfg) plus a plain scan of scripts and pages."""
    found = set()
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, _options = parse_mapping_cfg(handle)
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    for pattern in ("agent_console/**/*.js", "agent_console/**/*.html",
                    "location_link/**/*.js", "location_link/**/*.html"):
        for path in ROOT.glob(pattern):
            if "vendor" not in path.parts:
                found |= set(LITERAL_CALL.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_id_the_code_uses_has_words_in_both_languages():
    used = used_ids()
    assert len(used) > 300, "the scan found too few ids: it is broken"
    for lang in i18n.LANGUAGES:
        catalog = _po(lang)
        missing = sorted(key for key in used if key not in catalog or not catalog[key].string)
        assert missing == [], f"{lang}: no words for {missing}"


def test_both_languages_have_the_same_ids_and_parameters():
    indonesian, english = _po("id"), _po("en")
    assert {m.id for m in indonesian if m.id} == {m.id for m in english if m.id}
    for message in indonesian:
        if message.id:
            assert i18n.params_of(message.id, "id") == i18n.params_of(message.id, "en"), message.id


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_compiled_catalogue_is_the_po_file(lang):
    """The .mo files are committed (package data, no build step); `scripts/translations compile`."""
    with open(i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    source = {m.id: m.string for m in _po(lang) if m.id and not m.fuzzy}
    assert compiled == source, "run scripts/translations compile"


def test_indonesian_is_the_default_and_english_a_choice():
    assert i18n.translate("queue.title", "id") == "Antrean panggilan"
    assert i18n.translate("queue.title", "en") == "Call queue"
    assert i18n.translate("no.such.id", "id") == "no.such.id"
    assert i18n.word("unit_kind", "fire_engine", "id") == "Mobil pemadam"
    assert i18n.word("unit_kind", "hovercraft", "en") == "hovercraft"
    assert i18n.translate("sv.admin.phone_taken", "en", user="ani") == "This phone belongs to ani already."


def test_templates_may_write_flask_babels_underscore_or_t_and_get_the_viewers_words(app):
    from flask import render_template_string, session

    with app.test_request_context("/"):
        assert render_template_string("{{ _('queue.title') }} / {{ t('queue.title') }}") == "Antrean panggilan / Antrean panggilan"
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert render_template_string("{{ _('sv.admin.phone_taken', user='ani') }}") == "This phone belongs to ani already."
