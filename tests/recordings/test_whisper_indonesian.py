"""Indonesian heard and read: Whisper on telephone-line statements, live, with triage that survives its slips.

The statements are espeak-ng Indonesian through G.711 mu-law with line noise (indonesian.py),
and whisper-base mishears them as it mishears real callers; what must hold is what a call-taker
relies on: the category and the words that gave it, the place named, text while the caller
speaks, and a clear status when there is nothing to hear.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from recordings.keywords import load_keywords, triage_matches
from recordings.statement import LiveStatements
from routing.places import import_boundaries, import_pois
from siaga112.models import Call, Event, LocationFix, Recording
from siaga112.runtime import Runtime
from tests.recordings.factories import add_call, wait_until
from tests.recordings.indonesian import BY_CATEGORY, LONG_STATEMENT, line_noise, write_pcm
from tests.recordings.speech_samples import AsteriskWav, pcm_frames

pytestmark = pytest.mark.speech

INDONESIAN = load_keywords("id").phrases()
# The goal is 1.5 s after the caller stops on two idle cores; a shared test host gets room.
FINAL_DELAY_BOUND_S = 4.0


# whisper-base on espeak's Indonesian misses a keyword now and then (and CPU threads can tip a
# beam one way or the other): the category may be missed in a few statements, never another given.
MISSES_ALLOWED = 2


def test_every_category_is_hinted_from_a_telephone_statement_with_the_words_that_gave_it(whisper, speak):
    outcomes = {}
    for category, statement in BY_CATEGORY.items():
        transcript = whisper.transcribe_file(speak(statement), phrases=INDONESIAN)
        assert transcript.status == "done", transcript.reason
        assert all(w.start <= w.end <= transcript.duration_s + 0.5 for w in transcript.words)
        hint, matches = triage_matches(transcript.text, lang="id")
        outcomes[category] = (hint, [(m.keyword, m.heard, m.how) for m in matches], transcript.text)
        if hint == category:
            heard = " ".join(transcript.text.casefold().replace(",", " ").replace(".", " ").split())
            assert matches[0].category == category and matches[0].heard in heard
    print("\n" + "\n".join(f"{c:18} {h}  {m}  | {t}" for c, (h, m, t) in outcomes.items()))

    missed = [c for c, (hint, _m, _t) in outcomes.items() if hint != c]
    assert len(missed) <= MISSES_ALLOWED, missed
    # A miss leaves the hint empty (or at most "general"): never another emergency.
    assert all(outcomes[c][0] in (None, "general") for c in missed), {c: outcomes[c] for c in missed}
    assert sum(how != "exact" for _h, found, _t in outcomes.values() for _k, _heard, how in found) >= 2


def test_a_caller_who_says_nothing_gets_a_clear_status_not_text(whisper, tmp_path):
    quiet = whisper.transcribe_file(line_noise(tmp_path / "quiet.wav", 4.0))
    hiss = whisper.transcribe_file(line_noise(tmp_path / "hiss.wav", 4.0, noise_rms=400.0))

    assert (quiet.status, quiet.reason) == ("failed", "the recording is silent")
    assert (hiss.status, hiss.text) == ("failed", "")
    assert hiss.reason in ("no speech was heard in the recording", "no words were recognised in the recording")


def test_a_damaged_file_gets_a_clear_status(whisper, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(40))

    transcript = whisper.transcribe_file(broken)

    assert transcript.status == "failed" and transcript.reason


def load_places(session, tmp_path):
    square = [[112.60, -7.99], [112.63, -7.99], [112.63, -7.96], [112.60, -7.96], [112.60, -7.99]]
    kelurahan = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
        "properties": {"kode": "35.73.02.1001", "nama": "Sukun", "kode_kecamatan": "35.73.02",
                       "nama_kecamatan": "Sukun"}}]}
    market = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [112.615, -7.975]},
        "properties": {"kind": "other", "name": "Pasar Besar"}}]}
    (tmp_path / "kelurahan.geojson").write_text(json.dumps(kelurahan))
    (tmp_path / "pois.geojson").write_text(json.dumps(market))
    import_boundaries(session, tmp_path / "kelurahan.geojson", "kelurahan")
    import_pois(session, tmp_path / "pois.geojson")
    session.commit()


def feed(writer: AsteriskWav, samples: bytes, statement, piece_s: float = 0.5) -> None:
    """Append samples as Asterisk does, each piece once the recogniser has taken in the one before."""
    step = int(writer.rate * piece_s) * 2
    for offset in range(0, len(samples), step):
        writer.write(samples[offset:offset + step])
        assert statement.wait_for_audio(writer.seconds_written, timeout=60)


@pytest.mark.slow
def test_a_live_statement_shows_text_while_spoken_then_its_category_words_and_place_offered(
        settings, database, session, whisper, speak, tmp_path):
    load_places(session, tmp_path)
    runtime = Runtime(settings=dataclasses.replace(settings, speech_engine="whisper", language="id"),
                      database=database)
    runtime.provide("speech_engine", whisper)
    samples, rate = pcm_frames(speak(LONG_STATEMENT))
    call_id = add_call(database, state="ivr", ended_ago=None)
    path = f"{settings.recordings_dir}/call-{call_id}-statement.wav"
    listener = LiveStatements(runtime)
    decoded_before = whisper.decoded_seconds

    listener.statement_started(call_id, path)  # before Asterisk has written a byte
    statement = listener.last[call_id]
    writer = AsteriskWav(Path(path), rate)
    half = len(samples) // 2 // 2 * 2
    feed(writer, samples[:half], statement)
    assert wait_until(lambda: statement.partials_stored >= 1, timeout=60)
    partial_seen_at = writer.seconds_written
    feed(writer, samples[half:], statement)
    writer.close()
    ended = time.monotonic()
    listener.statement_ended(call_id, path)
    assert statement.stored.wait(timeout=60)
    delay = statement.stored_at - ended
    print(f"\nstatement of {writer.seconds_written:.1f} s: final transcript stored {delay * 1000:.0f} ms after its end")

    assert partial_seen_at < writer.seconds_written / 2 + 0.5
    assert delay < FINAL_DELAY_BOUND_S
    with database.session() as check:
        row = check.scalar(select(Recording).where(Recording.call_id == call_id))
        call = check.get(Call, call_id)
        fixes = list(check.scalars(select(LocationFix).where(LocationFix.call_id == call_id)))
        updates = [e.payload for e in check.scalars(select(Event).where(Event.kind == "call.updated")
                                                    .order_by(Event.id)) if e.payload.get("id") == call_id]
    assert row.transcript_status == "done" and row.transcript_words
    assert call.category_hint == "fire"
    assert any(k["category"] == "fire" for k in row.transcript_keywords)
    # The place the caller named is offered, not taken as the call's location.
    assert [f.source for f in fixes] == ["speech"]
    assert fixes[0].detail["offered"] is True and fixes[0].accuracy_m is not None
    assert call.confirmed_fix_id is None
    assert any(p["kind"] in ("near", "kelurahan", "landmark") for p in row.transcript_places)
    partials = [u["statement"] for u in updates if u.get("statement", {}).get("transcript_status") == "partial"]
    assert partials and updates[-1]["statement"]["keywords"] == row.transcript_keywords
    # Decoded once: provisional tails are redone only where the caller went on speaking.
    assert whisper.decoded_seconds - decoded_before < 2.0 * writer.seconds_written


def test_transcribe_json_gives_one_object_per_file_for_scripts(cli_runner, settings, whisper, speak, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    files = [str(speak(BY_CATEGORY["fire"])), str(empty)]

    result = cli_runner.invoke(["transcribe", "--json", "--engine", "whisper", *files])

    assert result.exit_code == 1  # one file could not be transcribed
    listed = json.loads(result.stdout)
    assert [item["file"] for item in listed] == files
    fire, nothing = listed
    assert set(fire) >= {"file", "status", "text", "words", "category_hint", "keywords", "places"}
    assert fire["status"] == "done" and fire["category_hint"] == "fire"
    assert fire["keywords"][0]["keyword"] == "kebakaran" and fire["words"][0]["start"] >= 0
    assert (nothing["status"], nothing["category_hint"], nothing["keywords"], nothing["words"]) == (
        "failed", None, [], [])
    assert nothing["reason"] == "the recording file is empty"


def test_silence_written_live_is_reported_silent(settings, database, whisper, tmp_path):
    runtime = Runtime(settings=dataclasses.replace(settings, speech_engine="whisper"), database=database)
    runtime.provide("speech_engine", whisper)
    samples = write_pcm(tmp_path / "q.wav", bytes(8000 * 2 * 3))
    call_id = add_call(database, state="ivr", ended_ago=None)
    path = f"{settings.recordings_dir}/call-{call_id}-statement.wav"
    listener = LiveStatements(runtime)
    listener.statement_started(call_id, path)
    writer = AsteriskWav(Path(path), 8000)
    writer.write(pcm_frames(samples)[0])
    writer.close()
    listener.statement_ended(call_id, path)

    assert listener.last[call_id].stored.wait(timeout=60)
    with database.session() as check:
        row = check.scalar(select(Recording).where(Recording.call_id == call_id))
    assert (row.transcript_status, row.transcript_reason) == ("failed", "the recording is silent")
