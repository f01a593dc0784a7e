"""Places named in a transcript survive the recogniser's slips in the level word."""

from __future__ import annotations

from recordings.places import named_places


def test_a_level_word_heard_with_l_and_r_or_t_and_h_swapped_still_names_the_kelurahan():
    # What whisper-base wrote for "rumahnya di kelurahan sukun" down the test telephone line.
    for heard in ("Rumahnya dikeluratan sukun,", "rumatnya di kaluran sukun,", "Rumahnya di karuratan sukun,"):
        assert named_places(heard) == named_places("rumahnya di kelurahan sukun") != [], heard


def test_words_that_only_resemble_a_level_word_name_no_place():
    assert named_places("keluarga saya di kamar, kalian tolong") == []
