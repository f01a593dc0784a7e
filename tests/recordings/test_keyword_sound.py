"""Triage that survives a recogniser's slips: keywords found by spelling and by sound, never by chance."""

from __future__ import annotations

import pytest

from recordings.keywords import load_keywords, sound_key, triage, triage_matches


@pytest.mark.parametrize(("heard", "category", "keyword", "how"), [
    ("tolong anak kemakaran di rumah saya", "fire", "kebakaran", "sound"),  # b heard as m
    ("ada kecelakan motor di jalan", "traffic_accident", "kecelakaan", "similar"),  # a letter lost
    ("ke pakaran di pasar", "fire", "kebakaran", "sound"),  # split in two and b heard as p
    ("anakaributan orang mahuk di depan warun", "public_order", "keributan", "sound"),  # run into "ada"
    ("gempah bumi kuat sekali", "earthquake", "gempa bumi", "similar"),
    ("saya nipukul suami saya", "domestic_violence", "dipukul suami", "similar"),
    ("anak saya tanggalam di sungai", "disaster", "tenggelam", "sound"),
])
def test_a_misheard_keyword_still_gives_its_category_and_says_what_was_heard(heard, category, keyword, how):
    hint, matches = triage_matches(heard, lang="id")

    assert hint == category
    first = matches[0].to_dict()
    assert (first["category"], first["keyword"], first["how"]) == (category, keyword, how)
    assert first["heard"] in heard and 75 <= first["score"] < 100


@pytest.mark.parametrize("heard", [
    "saya di kota malang",  # maling (thief) is short: only exactly
    "tim pencarian sudah datang",  # pencarian (search) is not pencurian (theft)
    "airnya sampai pinggan",  # pinggang, not pingsan
    "kebanyakan orang sudah pulang",  # not kebakaran
])
def test_words_that_merely_resemble_a_keyword_give_no_category(heard):
    assert triage_matches(heard, lang="id") == (None, [])


def test_an_exact_keyword_is_reported_as_exact_and_the_list_order_decides_the_hint():
    hint, matches = triage_matches("Kecelakaan! Tolong kirim ambulans.", lang="id")

    assert hint == "traffic_accident"
    assert [(m.keyword, m.heard, m.how, m.score) for m in matches] == [
        ("kecelakaan", "kecelakaan", "exact", 100.0), ("ambulans", "ambulans", "exact", 100.0),
        ("tolong", "tolong", "exact", 100.0)]
    assert triage("Kecelakaan! Tolong kirim ambulans.", lang="id") == (
        "traffic_accident", ["kecelakaan", "ambulans", "tolong"])


def test_the_sound_key_folds_what_a_telephone_line_confuses():
    assert sound_key("kebakaran") == sound_key("kemakaran") == sound_key("ke pakaran")
    assert sound_key("rumah") == sound_key("ruma")
    assert sound_key("pencurian") != sound_key("pencarian")


def test_phrases_put_every_category_s_first_keyword_first():
    keywords = load_keywords("id")
    phrases = keywords.phrases()

    firsts = phrases[:len(keywords.categories)]
    assert firsts[:3] == ["kebakaran", "kecelakaan", "kdrt"]
    assert sorted(set(phrases)) == sorted({k.spoken for k in keywords.keywords})


def test_a_short_keyword_is_not_found_inside_a_longer_misheard_word():
    # "saya butuh bantuan" came out "hajabutufan tuan": its sound holds that of "tumbang".
    assert triage_matches("hallo, hajabutufan tuan", lang="id") == (None, [])
