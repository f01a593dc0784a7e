"""Places named in a transcript survive the recogniser's slips in the level word."""

from __future__ import annotations

from recordings.places import named_places


def test_a_level_word_heard_with_l_and_r_or_t_and_h_swapped_still_names_the_kelurahan():
    # What whisper-base wrote for "rumahnya di kelurahan sukun" down the test telephone line.
    for heard in ("Rumahnya dikeluratan sukun,", "rumatnya di kaluran sukun,", "Rumahnya di karuratan sukun,"):
        assert named_places(heard) == named_places("rumahnya di kelurahan sukun") != [], heard


def test_words_that_only_resemble_a_level_word_name_no_place():
    assert named_places("keluarga saya di kamar, kalian tolong") == []


def test_a_database_not_set_up_leaves_the_named_places_and_says_so_in_one_line(tmp_path, caplog):
    """`siaga112 transcribe` before the first `make run`: the places are listed, without a traceback."""
    from recordings.places import place_statement
    from siaga112.db import Database
    from siaga112.runtime import Runtime
    from siaga112.settings import load_settings

    bare = Database(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    runtime = Runtime(settings=load_settings(overrides={"data_dir": str(tmp_path)}), database=bare)
    with bare.session() as session:
        named, geocoded = place_statement(runtime, session, "api besar di kelurahan sukun dekat pasar besar")
    bare.dispose()

    assert [place.kind for place in named] == ["kelurahan", "landmark"] and geocoded is None
    [record] = [r for r in caplog.records if r.name == "recordings.places"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "the database did not answer (no such table" in record.getMessage()
