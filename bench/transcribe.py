"""Live Whisper transcription against bare faster-whisper on the same statements, in the same run.

Run from the repository root:

    python bench/transcribe.py [--runs 2] [--max-callers 6] [--lines 3] [--model ""] [--device cpu] [--compute-type int8]

Statements: the Indonesian test statements (tests/recordings/indonesian.py), spoken by
espeak-ng through a G.711 mu-law telephone line with noise, the long one about 20 s.

1. CPU: `WhisperEngine.transcribe_file` (utterances cut by voice activity, each decoded once
   with the encoder fed only its audio) and the live path (a LiveTranscriber following the file
   while it is written in real time, provisional tails included) against bare faster-whisper
   `WhisperModel.transcribe` of the whole file with the same decoding options. Process CPU
   seconds, best of `--runs`, alternating.
2. Word error rate against what was said, live path / whole-file decoding. The statements are
   made repeatably (same words, same line noise every run) and the decodes are deterministic, so
   a second run gives the same words; what moves the ratio is which statements and which line:
   a word or two in six short statements. So the ratio is also given over every test statement
   (one per category and the long one) on `--lines` telephone lines (other noise), each line's
   ratio and the spread, with the live path's final text taken from its whole-file twin (the
   same cuts and decodes; checked equal on the six).
3. Delay from the end of speech to the final text being shown (the last partial that equals
   the final transcript), and from the recording's end (after Asterisk's 2 s of silence) to the
   final transcript.
4. Callers at once: N statements written in real time together, one shared model; the largest
   N whose every final text comes within 1.5 s of the end of speech keeps up.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Waiting OpenMP threads sleep rather than spin: on a shared machine a spinning thread is counted
# as CPU time it did not compute with, and the CPU ratios below would measure the neighbours.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")

from recordings.keywords import load_keywords  # noqa: E402
from recordings.live import LiveTranscriber  # noqa: E402
from recordings.whisper_engine import WhisperEngine, hotwords_for, whisper_engine  # noqa: E402
from recordings.whisper_model import ModelSpec, cpu_split, model_source  # noqa: E402
from tests.recordings.indonesian import BY_CATEGORY, LONG_STATEMENT, RATE, telephone  # noqa: E402
# The line noise of the test statements; further lines take the next seeds.
LINE_SEED = 112
from tests.recordings.speech_samples import AsteriskWav, missing_tools, pcm_frames  # noqa: E402

SILENCE_AFTER_S = 2.0  # Asterisk ends the statement after this much silence (statement_silence_seconds)
DELAY_GOAL_S = 1.5


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def words_of(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.casefold()).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r != h))
    return row[-1] / max(1, len(ref))


def bare(model, path: Path, engine: WhisperEngine, hotwords: str | None) -> str:
    """Bare faster-whisper: the whole file, padded to 30 s windows as faster-whisper does, same options."""
    kwargs = engine.options.transcribe_kwargs()
    kwargs["hotwords"] = hotwords
    segments, _ = model.transcribe(str(path), **kwargs)
    return " ".join(segment.text.strip() for segment in segments)


def speech_end_s(path: Path) -> float:
    """Where the caller's last word ends: the statements end with 1 s of line noise."""
    samples, rate = pcm_frames(path)
    return len(samples) / 2 / rate - 1.0


def record_live(engine, source: Path, target: Path, phrases, start: threading.Barrier | None = None) -> dict:
    """Write `source` (plus Asterisk's trailing silence) into `target` in real time while a LiveTranscriber follows."""
    samples, rate = pcm_frames(source)
    samples += bytes(int(SILENCE_AFTER_S * rate) * 2)
    piece = int(rate * 0.02) * 2
    shown: list[tuple[float, str]] = []
    writer = AsteriskWav(target, rate)
    if start is not None:
        start.wait()
    began = time.monotonic()
    transcriber = LiveTranscriber(engine, target, phrases=phrases,
                                  on_partial=lambda text: shown.append((time.monotonic(), text))).start()
    for index, offset in enumerate(range(0, len(samples), piece)):
        writer.write(samples[offset:offset + piece])
        pause = began + (index + 1) * 0.02 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    writer.close()
    ended = time.monotonic()
    transcript = transcriber.finish(timeout=300)
    done = time.monotonic()
    speech_ended = began + speech_end_s(source)
    final_shown = next((at for at, text in shown if text == transcript.text), done)
    return {"text": transcript.text, "status": transcript.status,
            "speech_to_final_s": max(0.0, final_shown - speech_ended),
            "end_to_transcript_s": done - ended, "first_partial_s": (shown[0][0] - began) if shown else None}


def spread(engine, plain, hotwords, phrases, folder: Path, lines: int) -> None:
    """Word error rate of every test statement on several lines: bare whole file against the pipeline."""
    statements = [LONG_STATEMENT, *BY_CATEGORY.values()]
    print(f"\n2b. word error rate, {len(statements)} statements x {lines} lines   load {load()}")
    ratios, totals = [], {"bare": [], "live": []}
    for line in range(lines):
        errors = {"bare": [], "live": []}
        for i, statement in enumerate(statements):
            path = telephone(statement, folder / f"line-{line}-{i}.wav", seed=LINE_SEED + line)
            errors["bare"].append(wer(statement.text, bare(plain, path, engine, hotwords)))
            errors["live"].append(wer(statement.text, engine.transcribe_file(path, phrases=phrases).text))
        bare_mean, live_mean = statistics.mean(errors["bare"]), statistics.mean(errors["live"])
        ratios.append(live_mean / bare_mean)
        worse = sum(lv > b for b, lv in zip(errors["bare"], errors["live"]))
        better = sum(lv < b for b, lv in zip(errors["bare"], errors["live"]))
        ran_on = sum(b > 1.0 for b in errors["bare"])
        print(f"   line {line + 1} (seed {LINE_SEED + line}): bare {bare_mean:.3f}  live {live_mean:.3f}  "
              f"live / whole = {ratios[-1]:.3f}   live worse in {worse}, better in {better}; "
              f"bare wrote on past the speech (WER > 1) in {ran_on}")
        for name in totals:
            totals[name] += errors[name]
    bare_all, live_all = statistics.mean(totals["bare"]), statistics.mean(totals["live"])
    medians = statistics.median(totals["bare"]), statistics.median(totals["live"])
    print(f"   all lines: bare {bare_all:.3f}  live {live_all:.3f}  live / whole = {live_all / bare_all:.3f}"
          f"   (lines {min(ratios):.3f}-{max(ratios):.3f}); median statement WER bare {medians[0]:.3f}, "
          f"live {medians[1]:.3f}")
    # Bare's run-ons (its text carrying the hotword list) flatter the ratio: also without them.
    clean = [(b, lv) for b, lv in zip(totals["bare"], totals["live"]) if b <= 1.0]
    print(f"   where bare did not write on ({len(clean)} of {len(totals['bare'])}): live / whole = "
          f"{statistics.mean(lv for _, lv in clean) / statistics.mean(b for b, _ in clean):.3f}")
    long_rows = [(b, lv) for k, (b, lv) in enumerate(zip(totals["bare"], totals["live"])) if k % len(statements) == 0]
    print(f"   the 20 s statement on each line: bare {', '.join(f'{b:.3f}' for b, _ in long_rows)}; "
          f"live {', '.join(f'{lv:.3f}' for _, lv in long_rows)}")


def cpu_of(function) -> tuple[float, object]:
    before = time.process_time()
    result = function()
    return time.process_time() - before, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="passes over the statements for the CPU figures")
    parser.add_argument("--max-callers", type=int, default=6, help="most callers at once to try")
    parser.add_argument("--lines", type=int, default=3,
                        help="telephone lines (noise seeds) for the word error rate over every statement; 0: none")
    parser.add_argument("--model", default="", help="whisper_model setting (default: the embedded whisper-base)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--data-dir", default="var")
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        print(f"cannot make the spoken statements: {', '.join(missing)} not installed", file=sys.stderr)
        return 2

    spec = ModelSpec(args.model, args.device, args.compute_type)
    started = time.perf_counter()
    engine = whisper_engine(spec, args.data_dir)
    from faster_whisper import WhisperModel

    threads, workers = cpu_split(spec.threads)
    plain = WhisperModel(model_source(spec, args.data_dir), device=args.device, compute_type=args.compute_type,
                         cpu_threads=threads, num_workers=workers)  # the threads the engine's model has
    print(f"model {spec.label} loaded in {time.perf_counter() - started:.1f} s; {workers} decodes at once; "
          f"load average {load()}")
    phrases = load_keywords("id").phrases()
    hotwords = hotwords_for(phrases)
    statements = [LONG_STATEMENT, BY_CATEGORY["fire"], BY_CATEGORY["crime"], BY_CATEGORY["medical"],
                  BY_CATEGORY["flood"], BY_CATEGORY["traffic_accident"]]

    with tempfile.TemporaryDirectory(prefix="siaga112-bench-") as tmp:
        folder = Path(tmp)
        paths = [telephone(s, folder / f"statement-{i}.wav") for i, s in enumerate(statements)]
        audio = sum(len(pcm_frames(p)[0]) / 2 / RATE for p in paths)
        engine.transcribe_file(paths[1], phrases=phrases)  # warm both before timing
        bare(plain, paths[1], engine, hotwords)

        cpu = {"bare": [], "pipeline": []}
        texts = {"bare": {}, "pipeline": {}}
        for run in range(args.runs):
            for path in paths:
                for name in (("bare", "pipeline") if run % 2 == 0 else ("pipeline", "bare")):
                    if name == "bare":
                        spent, text = cpu_of(lambda: bare(plain, path, engine, hotwords))
                    else:
                        spent, result = cpu_of(lambda: engine.transcribe_file(path, phrases=phrases))
                        text = result.text
                    cpu[name].append((path, spent))
                    texts[name][path] = text
        best = {name: sum(min(s for p, s in cpu[name] if p == path) for path in paths) for name in cpu}
        print(f"\n1. CPU over {audio:.0f} s of audio ({len(paths)} statements, best of {args.runs})   load {load()}")
        for name in ("bare", "pipeline"):
            print(f"   {name:9} CPU {best[name]:6.1f} s   CPU real-time factor {best[name] / audio:.3f}")

        live = []
        live_cpu, _ = cpu_of(lambda: live.extend(
            record_live(engine, p, folder / f"live-{i}.wav", phrases) for i, p in enumerate(paths)))
        print(f"   live      CPU {live_cpu:6.1f} s   CPU real-time factor {live_cpu / audio:.3f}"
              f"   (provisional tails included; {engine.decodes} decodes so far)")
        print(f"   live / bare CPU = {live_cpu / best['bare']:.3f}   pipeline / bare = "
              f"{best['pipeline'] / best['bare']:.3f}   (goal: live <= 1.10)")

        said = [s.text for s in statements]
        wer_bare = statistics.mean(wer(ref, texts["bare"][p]) for ref, p in zip(said, paths))
        wer_live = statistics.mean(wer(ref, item["text"]) for ref, item in zip(said, live))
        print(f"\n2. word error rate against what was said: whole file (bare) {wer_bare:.3f}, live {wer_live:.3f}"
              f"   live / whole = {wer_live / wer_bare:.3f} (goal <= 1.05)")
        for ref, path, item in zip(said, paths, live):
            print(f"   said: {ref}\n   bare: {texts['bare'][path]}\n   live: {item['text']}")
        same = sum(item["text"] == texts["pipeline"][p] for p, item in zip(paths, live))
        print(f"   live final text equal to the whole-file pipeline's in {same} of {len(paths)} statements")
        if args.lines:
            spread(engine, plain, hotwords, phrases, folder, args.lines)

        delays = [item["speech_to_final_s"] for item in live]
        ends = [item["end_to_transcript_s"] for item in live]
        print(f"\n3. end of speech -> final text shown: {', '.join(f'{d:.2f}' for d in delays)} s"
              f"   (20 s statement: {delays[0]:.2f} s; goal {DELAY_GOAL_S} s)")
        print(f"   recording's end -> final transcript: {', '.join(f'{d:.2f}' for d in ends)} s;"
              f" first partial after {live[0]['first_partial_s']:.1f} s of the 20 s statement")

        print(f"\n4. callers at once, written in real time, one shared model   load {load()}")
        kept = 0
        for count in range(1, args.max_callers + 1):
            barrier = threading.Barrier(count)
            results: list[dict] = [None] * count  # type: ignore[list-item]

            def one(i: int) -> None:
                results[i] = record_live(engine, paths[i % len(paths)], folder / f"many-{count}-{i}.wav",
                                         phrases, barrier)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            worst = max(r["speech_to_final_s"] for r in results)
            print(f"   {count} callers: worst end of speech -> final text {worst:.2f} s   load {load()}")
            if worst > DELAY_GOAL_S:
                break
            kept = count
        print(f"   => {kept} caller{'s' if kept != 1 else ''} at once keep the final text within "
              f"{DELAY_GOAL_S} s of the end of speech")
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s   load average {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
