"""Command-line commands of recordings: `siaga112 transcribe FILE...`, `siaga112 recordings retention`."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from siaga112.cli import CliContext, pass_context


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", "model_path", default=None,
              help="Vosk model folder (default: the vosk_model setting, SIAGA112_VOSK_MODEL).")
@click.option("--words", is_flag=True, help="Also print each word with its start and end time.")
@click.option("--language", default=None, help="Keyword list for triage (default: the language setting).")
@pass_context
def transcribe(obj: CliContext, files: tuple[str, ...], model_path: str | None, words: bool,
               language: str | None) -> None:
    """Transcribe recordings, with a progress bar; exits 1 if any file was not transcribed."""
    from recordings.keywords import load_keywords, triage
    from recordings.vosk_engine import UNAVAILABLE, SpeechUnavailable, Transcript, load_model, transcribe_file

    settings = obj.settings
    language = language or settings.language
    try:
        phrases = load_keywords(language).phrases()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        model = load_model(model_path or settings.vosk_model)
        unavailable = None
    except SpeechUnavailable as error:
        model, unavailable = None, error.reason
    not_done = 0
    with tqdm(total=len(files), unit="file", desc="transcribing", file=sys.stderr) as bar:
        for path in files:
            if unavailable is not None:
                transcript = Transcript(UNAVAILABLE, reason=unavailable)
            else:
                transcript = transcribe_file(model, path, words=True, phrases=phrases)
            lines = [f"{path}: {transcript.status}"
                     + (f" ({transcript.duration_s:.1f} s)" if transcript.duration_s else "")]
            if transcript.status == "done":
                lines.append(f"  {transcript.text}")
                hint, keywords = triage(transcript.text, transcript.spotted, language)
                if hint:
                    lines.append(f"  category: {hint} ({', '.join(keywords)})")
                if words:
                    lines += [f"  {w.start:7.2f} {w.end:7.2f}  {w.text}" for w in transcript.words]
            else:
                not_done += 1
                lines.append(f"  {transcript.reason}")
            bar.write("\n".join(lines), file=sys.stdout)
            bar.update(1)
    if not_done:
        raise SystemExit(1)


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
