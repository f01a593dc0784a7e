"""Command-line commands of ivr: `simulate-call` and `import cells`."""

from __future__ import annotations

import click

from siaga112.cli import pass_context

# Prompts the checkout does not ship play as one second, so a demo runs without the audio files.
PROMPT_SAMPLES_WHEN_ABSENT = 8000


@click.command("cells")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_context
def import_cells_command(obj, path: str) -> None:
    """Load cell towers from an OpenCelliD-format CSV (upserts on mcc, mnc, area, cell)."""
    from ivr.cells import import_cells

    try:
        with open(path, newline="", encoding="utf-8") as handle, obj.runtime.database.session() as session:
            result = import_cells(session, handle)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{result.loaded} cells loaded, {result.skipped} rows skipped")


@click.command("simulate-call")
@click.option("--from", "caller_id", required=True, help='Caller number as the network sends it ("unknown" for none).')
@click.option("--name", "caller_name", default=None, help="Caller name (CALLERID(name)).")
@click.option("--dtmf", default="", help="Keys the caller presses, one per step that listens, e.g. 2 or 55.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False), default=None,
              help="What the caller says into the statement recording (WAV); silence if absent.")
@click.option("--hangup-after", type=float, default=None, help="Hang up after this many seconds of call time.")
@click.option("--geolocation", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A PIDF-LO document the network sends with the call (by value).")
@click.option("--cell", "access_info", default=None,
              help='P-Access-Network-Info, e.g. "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B".')
@click.option("--script", default="ivr", show_default=True, help="The AGI path to call.")
@click.option("--host", default=None, help="FastAGI host (default: the bind_host setting).")
@click.option("--port", type=int, default=None, help="FastAGI port (default: the agi_port setting).")
@pass_context
def simulate_call(obj, caller_id: str, caller_name: str | None, dtmf: str, audio: str | None,
                  hangup_after: float | None, geolocation: str | None, access_info: str | None,
                  script: str, host: str | None, port: int | None) -> None:
    """Place a call into the running FastAGI server exactly as Asterisk would, and show what happened."""
    from ivr.asterisk_peer import Caller, Channel, Sounds, run_call
    from ivr.simulate import channel_variables

    settings = obj.settings
    try:
        caller = Caller.from_options(dtmf=dtmf, audio=audio, hangup_after=hangup_after)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--dtmf") from None
    channel = Channel(script=script, caller_id=None if caller_id.lower() == "unknown" else caller_id,
                      caller_name=caller_name, language=settings.language,
                      variables=channel_variables(geolocation, access_info))
    record = run_call(host or settings.bind_host, port or settings.agi_port, channel, caller,
                      sounds=Sounds(missing_length=PROMPT_SAMPLES_WHEN_ABSENT))
    for exchange in record.exchanges:
        click.echo(f"{exchange.call_time:7.2f}s  {exchange.line}  ->  {exchange.reply.strip()}")
    for name, value in record.variables_set:
        click.echo(f"set {name} = {value}")
    if record.error:
        click.echo(f"error: {record.error}")
    click.echo(f"AGISTATUS={record.agi_status}")


commands: list = [simulate_call]
import_commands: list = [import_cells_command]
seed_commands: list = []
