"""`siaga112 evidence retention`: the callers' photos and videos past retention, as for recordings."""

from __future__ import annotations

import click

from siaga112.cli import CliContext, pass_context


@click.group("evidence")
def evidence_group() -> None:
    """Photos and video from location links: retention."""


@evidence_group.command("retention")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: the retention_days setting).")
@pass_context
def retention(obj: CliContext, dry_run: bool, days: int | None) -> None:
    """Remove photos and videos past retention (kept: legal hold, incidents not closed)."""
    from location_link.evidence import apply_retention

    runtime = obj.runtime
    days = days or runtime.settings.retention_days
    with runtime.database.session() as session:
        report = apply_retention(session, retention_days=days, dry_run=dry_run, actor="cli:retention")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"photos and videos older than {days} days (before {report.cutoff:%Y-%m-%d %H:%M} UTC):")
    for media_id in report.removed:
        click.echo(f"  {verb}  evidence {media_id}")
    for media_id, why in report.kept.items():
        click.echo(f"  keep          evidence {media_id}  ({why})")
    click.echo(f"{len(report.removed)} {verb}, {len(report.kept)} kept"
               + (" (dry run: nothing was changed)" if dry_run else ""))


commands: list = [evidence_group]
