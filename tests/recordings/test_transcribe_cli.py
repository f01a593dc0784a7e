"""`siaga112 transcribe FILE...`: each file's transcript or status, with a progress bar."""

from __future__ import annotations

import pytest

from tests.recordings.speech_samples import FIRE, TRAFFIC


@pytest.mark.speech
def test_each_file_gets_its_transcript_category_and_a_progress_bar(cli_runner, model_path, say, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    files = [str(say(FIRE)), str(say(TRAFFIC)), str(empty)]

    result = cli_runner.invoke(["transcribe", "--model", str(model_path), "--language", "ko", "--words", *files])

    assert result.exit_code == 1  # one file could not be transcribed
    out = result.stdout
    assert f"{files[0]}: done (1." in out and "category: fire (불이 났어요)" in out
    assert f"{files[1]}: done (2." in out
    assert f"{files[2]}: failed\n  the recording file is empty" in out
    assert out.index(files[0]) < out.index(files[1]) < out.index(files[2])
    assert "3/3" in result.stderr and "transcribing" in result.stderr
    timed = [line.split() for line in out.splitlines() if line.startswith("     ")]
    assert timed and all(float(start) < float(end) for start, end, _word in timed)


def test_without_a_model_every_file_is_reported_unavailable(cli_runner, tmp_path):
    path = tmp_path / "statement.wav"
    path.write_bytes(b"RIFF")

    result = cli_runner.invoke(["transcribe", str(path), str(path)])

    assert result.exit_code == 1
    assert result.stdout.count(f"{path}: unavailable\n  no speech model is configured") == 2


def test_model_folder_that_does_not_exist_is_named_in_the_reason(cli_runner, tmp_path):
    result = cli_runner.invoke(["transcribe", "--model", str(tmp_path / "nope"), str(tmp_path / "a.wav")])

    assert result.exit_code == 1
    assert f"unavailable\n  the speech model folder {tmp_path / 'nope'} does not exist" in result.stdout
