"""Keyword triage from the shipped per-language lists: category hint and matched keywords."""

from __future__ import annotations

import pytest
import yaml

from recordings.keywords import KEYWORDS_DIR, load_keywords, triage
from recordings.vosk_engine import Spotted, Word, find_phrases


@pytest.mark.parametrize(
    "statement, hint, matched",
    [
        ("Tolong! Ada kebakaran di Pasar Blimbing", "fire", ["kebakaran", "tolong"]),
        ("rumah saya dirampok tadi malam", "crime", ["*rampok*"]),
        ("ada perampokan di toko emas", "crime", ["*rampok*"]),
        ("kecelakaan motor, korbannya pingsan", "traffic_accident", ["kecelakaan", "pingsan"]),
        ("saya dipukul suami, tolong", "domestic_violence", ["dipukul suami", "tolong"]),
        ("BANJIR!!! air naik sampai atap", "flood", ["banjir", "air naik"]),
        ("tanah longsor menimpa rumah", "landslide", ["longsor", "tanah longsor"]),
        ("bapak saya tidak  sadarkan diri", "medical", ["tidak sadarkan diri"]),
        ("tolong cepat", "general", ["tolong"]),
    ],
)
def test_indonesian_statement_gives_category_hint_and_keywords(statement, hint, matched):
    assert triage(statement, [], "id") == (hint, matched)


def test_statement_without_emergency_words_gives_no_hint():
    assert triage("selamat siang, saya mau tanya jadwal kereta", [], "id") == (None, [])


def test_keywords_match_whole_words_only():
    # "gempar" (uproar) is not "gempa" (earthquake); "terbakar" inside a longer word is not a match.
    assert triage("kampung gempar", [], "id") == (None, [])


def test_keyword_spotted_in_the_audio_counts_when_the_transcript_missed_it():
    spotted = [Spotted("불이 났어요", 0.4, 1.1, 0.93)]

    assert triage("보 리라 어어어", spotted, "ko") == ("fire", ["불이 났어요"])


def test_korean_keyword_with_particle_attached_is_found():
    assert triage("교통사고가 났어요", [], "ko") == ("traffic_accident", ["교통사고*"])


def test_language_without_a_list_gives_no_hint():
    assert triage("fire fire", [], "en") == (None, [])


def test_language_code_cannot_name_another_file():
    with pytest.raises(ValueError):
        triage("kebakaran", [], "../settings")


def test_broken_list_is_refused_with_its_file_named(tmp_path):
    (tmp_path / "id.yaml").write_text("categories:\n  fire: kebakaran\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"id\.yaml.*fire"):
        load_keywords("id", tmp_path)


def test_list_from_another_folder_is_used(tmp_path):
    (tmp_path / "id.yaml").write_text("categories:\n  flood: [rob]\n", encoding="utf-8")

    assert triage("ada rob di pantai", [], "id", directory=tmp_path) == ("flood", ["rob"])


def test_shipped_indonesian_list_covers_the_main_emergencies():
    categories = load_keywords("id").categories

    for category in ("fire", "traffic_accident", "crime", "medical", "flood", "landslide", "domestic_violence"):
        assert category in categories
    assert categories[-1] == "general"


@pytest.mark.parametrize("language", sorted(path.stem for path in KEYWORDS_DIR.glob("*.yaml")))
def test_every_keyword_category_is_one_the_routing_rules_know(language):
    rules = KEYWORDS_DIR.parent / "routing_rules.yaml"
    if not rules.is_file():
        pytest.skip("config/routing_rules.yaml is not in this checkout")
    known = set(yaml.safe_load(rules.read_text(encoding="utf-8"))["categories"])

    assert set(load_keywords(language).categories) <= known


@pytest.mark.parametrize("language", sorted(path.stem for path in KEYWORDS_DIR.glob("*.yaml")))
def test_every_shipped_list_loads_with_spoken_phrases(language):
    keyword_list = load_keywords(language)

    assert keyword_list.keywords
    assert all(phrase and "*" not in phrase for phrase in keyword_list.phrases())


def test_spotted_phrase_needs_all_its_words_in_a_row_each_sure_enough():
    heard = [Word("불이", 0.0, 0.4, 0.9), Word("났어요", 0.4, 1.1, 0.8), Word("살려", 1.5, 1.9, 0.3)]

    found = find_phrases(heard, ["불이 났어요", "났어요 살려", "살려", "도와줘"], min_conf=0.5)

    assert found == [Spotted("불이 났어요", 0.0, 1.1, 0.8)]
