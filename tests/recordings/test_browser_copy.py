"""Browser-playable copies: Opus in Ogg (or MP3), levelled, stored apart; the original untouched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from recordings import browser_copy
from recordings.audio import _pydub_audio_segment
from recordings.browser_copy import TARGET_DBFS, CopyError, make_browser_copy, make_copy, original_intact
from recordings.registry import register_call
from siaga112.models import Recording
from tests.recordings.factories import add_call, add_recording, sha256, write_tone


def probe(path: Path) -> dict:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=format_name,duration",
                             "-of", "json", str(path)], capture_output=True, text=True, check=True)
    info = json.loads(result.stdout)
    return {"codec": info["streams"][0]["codec_name"], "container": info["format"]["format_name"],
            "duration": float(info["format"]["duration"])}


def loudness(path: Path) -> float:
    with path.open("rb") as stream:
        return _pydub_audio_segment().from_file(stream).dBFS


def test_copy_is_opus_in_ogg_under_data_dir_and_the_original_still_matches_its_checksum(database, settings):
    original = write_tone(Path(settings.recordings_dir) / "call-1-full.wav", 2.0)
    before = sha256(original)
    call_id = add_call(database)
    recording_id = add_recording(database, call_id, original)

    with database.session() as session:
        register_call(session, call_id)
        recording = session.get(Recording, recording_id)
        copy = make_browser_copy(recording, settings.data_path)

    with database.session() as session:
        recording = session.get(Recording, recording_id)
        assert recording.browser_path == str(copy.path)
        assert original_intact(recording)
    assert copy.path.parent == settings.data_path / "browser"
    assert not copy.path.is_relative_to(settings.recordings_dir)
    assert (copy.format, copy.mimetype) == ("ogg", "audio/ogg")
    found = probe(copy.path)
    assert (found["codec"], found["container"]) == ("opus", "ogg")
    assert found["duration"] == pytest.approx(2.0, abs=0.1)
    assert sha256(original) == before == recording.sha256


@pytest.mark.parametrize("amplitude", [200, 25000], ids=["quiet-line", "loud-line"])
def test_copy_is_levelled_to_the_same_loudness_without_clipping(tmp_path, amplitude):
    source = write_tone(tmp_path / "line.wav", 2.0, amplitude=amplitude)

    copy = make_copy(source, tmp_path / "copies" / "line")

    assert loudness(copy.path) == pytest.approx(TARGET_DBFS, abs=1.5)
    with copy.path.open("rb") as stream:
        assert _pydub_audio_segment().from_file(stream).max_dBFS < -0.5


def test_copy_falls_back_to_mp3_when_opus_cannot_be_made(tmp_path, monkeypatch):
    source = write_tone(tmp_path / "line.wav", 1.0)
    monkeypatch.setattr(browser_copy, "FORMATS", (
        ("ogg", "no-such-codec", "ogg", "audio/ogg", []),
        *[f for f in browser_copy.FORMATS if f[0] == "mp3"],
    ))

    copy = make_copy(source, tmp_path / "copies" / "line")

    assert (copy.format, copy.mimetype, copy.path.suffix) == ("mp3", "audio/mpeg", ".mp3")
    assert probe(copy.path)["codec"] == "mp3"
    assert not list((tmp_path / "copies").glob("*.part"))


def test_undecodable_recording_gets_no_copy_and_a_reason(tmp_path):
    source = tmp_path / "broken.wav"
    source.write_bytes(b"\x00\xff\x13garbage" * 500)

    with pytest.raises(CopyError) as raised:
        make_copy(source, tmp_path / "copies" / "broken")

    assert raised.value.reason == "the recording is not a readable audio file"
    assert not list((tmp_path / "copies").glob("*"))
