"""Command-line commands of recordings: `siaga112 transcribe FILE...`, `siaga112 recordings retention`."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from siaga112.cli import CliContext, pass_context


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--engine", type=click.Choice(["whisper", "vosk"]), default=None,
              help="Speech engine (default: the speech_engine setting; with --model, what the folder holds).")
@click.option("--model", "model_path", default=None,
              help="Whisper model folder or name, or Vosk model folder (default: the settings').")
@click.option("--words", is_flag=True, help="Also print each word with its start and end time.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list, one object per file: file, status, text, words, category_hint, keywords, places.")
@click.option("--language", default=None, help="Keyword list for triage (default: the language setting).")
@pass_context
def transcribe(obj: CliContext, files: tuple[str, ...], engine: str | None, model_path: str | None, words: bool,
               as_json: bool, language: str | None) -> None:
    """Transcribe recordings, with a progress bar; exits 1 if any file was not transcribed."""
    import json

    from recordings.keywords import load_keywords, triage_matches
    from recordings.places import named_places
    from recordings.speech import UNAVAILABLE, SpeechUnavailable, Transcript

    settings = obj.settings
    language = language or settings.language
    try:
        phrases = load_keywords(language).phrases()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        model, unavailable = _engine(settings, engine, model_path), None
    except SpeechUnavailable as error:
        model, unavailable = None, error.reason
    not_done = 0
    results = []
    with tqdm(total=len(files), unit="file", desc="transcribing", file=sys.stderr) as bar:
        for path in files:
            if unavailable is not None:
                transcript = Transcript(UNAVAILABLE, reason=unavailable)
            else:
                transcript = model.transcribe_file(path, words=True, phrases=phrases)
            hint, matches = triage_matches(transcript.text, transcript.spotted, language) \
                if transcript.status == "done" else (None, [])
            if transcript.status != "done":
                not_done += 1
            if as_json:
                results.append({
                    "file": path, "status": transcript.status, "reason": transcript.reason or None,
                    "duration_s": transcript.duration_s, "text": transcript.text,
                    "words": [{"word": w.text, "start": w.start, "end": w.end, "conf": w.conf}
                              for w in transcript.words],
                    "category_hint": hint, "keywords": [m.to_dict() for m in matches],
                    "places": _places(obj, transcript.text) if transcript.text else [],
                })
                bar.update(1)
                continue
            lines = [f"{path}: {transcript.status}"
                     + (f" ({transcript.duration_s:.1f} s)" if transcript.duration_s else "")]
            if transcript.status == "done":
                lines.append(f"  {transcript.text}")
                if hint:
                    heard = ", ".join(m.keyword if m.heard == m.keyword else f"{m.keyword} ~ {m.heard}"
                                      for m in matches)
                    lines.append(f"  category: {hint} ({heard})")
                named = named_places(transcript.text)
                if named:
                    lines.append(f"  places: {'; '.join(place.text for place in named)}")
                if words:
                    lines += [f"  {w.start:7.2f} {w.end:7.2f}  {w.text}" for w in transcript.words]
            else:
                lines.append(f"  {transcript.reason}")
            bar.write("\n".join(lines), file=sys.stdout)
            bar.update(1)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    if not_done:
        raise SystemExit(1)


def _engine(settings, engine: str | None, model_path: str | None):
    """The engine for the command: --engine and --model over the settings."""
    import dataclasses
    from pathlib import Path

    from recordings.engines import engine_name, load_engine
    from recordings.whisper_model import KNOWN_NAMES

    if model_path and engine is None:
        whisper_like = model_path in KNOWN_NAMES or (Path(model_path) / "model.bin").is_file()
        engine = "whisper" if whisper_like else "vosk"
    engine = engine or engine_name(settings)
    changes = {"speech_engine": engine}
    if model_path:
        changes["whisper_model" if engine == "whisper" else "vosk_model"] = model_path
    return load_engine(dataclasses.replace(settings, **changes))


def _places(obj: CliContext, text: str) -> list[dict]:
    """What the words named; with the place the loaded names give it, where the database has them."""
    from recordings.places import named_places, place_statement

    try:
        runtime = obj.runtime
        with runtime.database.session() as session:
            named, geocoded = place_statement(runtime, session, text)
    except Exception:  # no database here: the named places alone
        return [place.to_dict() for place in named_places(text)]
    places = [place.to_dict() for place in named]
    if places and geocoded is not None:
        places[0]["geocode"] = geocoded.to_dict()
    return places


@click.group("recordings")
def recordings_group() -> None:
    """Recordings: retention."""


@recordings_group.command("retention")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: the retention_days setting).")
@pass_context
def retention(obj: CliContext, dry_run: bool, days: int | None) -> None:
    """Remove recordings past retention (kept: legal hold, incidents not closed)."""
    from recordings.retention import apply_retention

    runtime = obj.runtime
    days = days or runtime.settings.retention_days
    with runtime.database.session() as session:
        report = apply_retention(session, retention_days=days, dry_run=dry_run, actor="cli:retention")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"recordings older than {days} days (before {report.cutoff:%Y-%m-%d %H:%M} UTC):")
    for item in report.removed:
        click.echo(f"  {verb}  recording {item.recording_id}  call {item.call_id}  {item.kind}  "
                   f"{item.age_days:.0f} days  {item.path}")
    for item in report.kept:
        click.echo(f"  keep          recording {item.recording_id}  call {item.call_id}  {item.kind}  "
                   f"{item.age_days:.0f} days  ({item.kept_because})")
    for item, reason in report.failed:
        click.echo(f"  not removed   recording {item.recording_id}: {reason}")
    click.echo(f"{len(report.removed)} {verb}, {len(report.kept)} kept"
               + (f", {len(report.failed)} failed" if report.failed else "")
               + (" (dry run: nothing was changed)" if dry_run else ""))
    if report.failed:
        raise SystemExit(1)


commands: list = [transcribe, recordings_group]
import_commands: list = []
seed_commands: list = []
