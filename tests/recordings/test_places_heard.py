"""Places named in a transcript survive the recogniser's slips in the level word."""

from __future__ import annotations

from recordings.places import NamedPlace, named_places


def test_a_level_word_heard_with_l_and_r_or_t_and_h_swapped_still_names_the_kelurahan():
    # What whisper-base wrote for "rumahnya di kelurahan sukun" down the test telephone line.
    for heard in ("Rumahnya dikeluratan sukun,", "rumatnya di kaluran sukun,", "Rumahnya di karuratan sukun,"):
        assert named_places(heard) == named_places("rumahnya di kelurahan sukun") != [], heard


def test_a_level_word_the_recogniser_ended_a_clause_with_takes_its_name_after_the_comma():
    # whisper-base on "tolong, ada kebakaran di kelurahan kebonsari" down the test line.
    heard = "tolong, anak kebakaran, dikeluaran, kebongsari, rumat sayatar makar, api ngametar sekali."
    assert named_places(heard) == [NamedPlace("kelurahan", "kelurahan kebongsari")]
    # ... but a full stop ends it, and a street or a village may be said without a name.
    assert named_places("banjir di kelurahan. air masuk") == []
    assert named_places("ada kecelakaan di jalan, dua orang luka") == []
    assert named_places("banjir di desa, air masuk") == []


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
