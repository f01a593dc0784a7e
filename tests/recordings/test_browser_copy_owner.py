"""One owner for each browser copy: the after-call worker and the sweep never race; a stop ends an encode."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from recordings import browser_copy
from recordings.after_call import after_call, register_missed
from recordings.browser_copy import CopyBusy, CopyStopped, make_copy, owning
from siaga112.models import Recording
from tests.recordings.factories import add_call, add_recording, write_tone


def test_the_after_call_worker_and_the_sweep_on_one_call_make_one_copy_without_errors(runtime, database, settings,
                                                                                       caplog):
    call_id = add_call(database, state="completed")
    recording_id = add_recording(database, call_id, write_tone(Path(settings.recordings_dir) / "call-1-full.wav", 3.0))

    with ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(after_call, runtime, call_id) for _ in range(2)] + [
            pool.submit(register_missed, runtime) for _ in range(2)]
        for run in runs:
            run.result(timeout=60)

    with database.session() as session:
        recording = session.get(Recording, recording_id)
    assert recording.browser_path and Path(recording.browser_path).exists()
    assert "FileNotFoundError" not in caplog.text and "failed" not in caplog.text
    assert not list((settings.data_path / "browser").glob("*.part"))


def test_a_copy_someone_else_is_making_is_left_to_them(tmp_path):
    with owning(tmp_path / "recording-1.lock"):
        with pytest.raises(CopyBusy):
            with owning(tmp_path / "recording-1.lock"):
                pass
    with owning(tmp_path / "recording-1.lock"):  # free again once the owner is done
        pass


def test_a_stop_ends_a_long_encode_at_once_and_leaves_no_partial_file(tmp_path, monkeypatch):
    source = write_tone(tmp_path / "long.wav", 30.0)
    real_popen = subprocess.Popen

    def slow_ffmpeg(argv, **kwargs):  # the encode reads its input in real time: 30 s, like a backlog's
        if "-nostdin" in argv:
            argv = [argv[0], "-re", *argv[1:]]
        return real_popen(argv, **kwargs)

    monkeypatch.setattr(browser_copy.subprocess, "Popen", slow_ffmpeg)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(CopyStopped):
        make_copy(source, tmp_path / "copies" / "long", stop=stop)
    assert time.monotonic() - started < 5
    assert not list((tmp_path / "copies").glob("long.*"))
