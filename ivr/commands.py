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
@click.option("--dtmf", default="",
              help="Keys the caller presses: a service key 1-4 (1 police, 2 fire, 3 medical, 4 disaster), "
                   "then 55 to confirm a silent emergency, e.g. 2, 55 or 255.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False), default=None,
              help="What the caller says into the statement recording (WAV). Without it the caller "
                   "speaks a short tone, or stays silent with --silent or --dtmf ...55.")
@click.option("--silent", is_flag=True, help="The caller says nothing (the IVR then offers the silent-caller check).")
@click.option("--hangup-after", type=float, default=None, help="The caller hangs up after this many seconds of call time.")
@click.option("--answer-as", "answer_as", default=None,
              help="After the IVR, a call-taker's phone answers: a queue member interface (PJSIP/1001) "
                   "or the name of a console user with one. Their console pops the call.")
@click.option("--talk", type=float, default=10.0, show_default=True,
              help="With --answer-as: seconds on the line before the caller hangs up.")
@click.option("--abandon-after", type=float, default=None,
              help="Without --answer-as: the caller gives up after this many seconds in the queue.")
@click.option("--geolocation", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A PIDF-LO document the network sends with the call (by value).")
@click.option("--cell", "access_info", default=None,
              help='P-Access-Network-Info, e.g. "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=51010183C357C80B".')
@click.option("--script", default="ivr", show_default=True, help="The AGI path to call.")
@click.option("--host", default=None, help="FastAGI host (default: the bind_host setting).")
@click.option("--port", type=int, default=None, help="FastAGI port (default: the agi_port setting).")
@pass_context
def simulate_call(obj, caller_id: str, caller_name: str | None, dtmf: str, audio: str | None, silent: bool,
                  hangup_after: float | None, answer_as: str | None, talk: float, abandon_after: float | None,
                  geolocation: str | None, access_info: str | None, script: str, host: str | None,
                  port: int | None) -> None:
    """Place a call into the running FastAGI server exactly as Asterisk would, and show what happened.

    \b
    Examples:
      siaga112 simulate-call --from +6281234567890 --dtmf 2                  # fire; waits in the queue
      siaga112 simulate-call --from +6281234567890 --dtmf 2 --answer-as ani  # ... answered on ani's phone
      siaga112 simulate-call --from +6281234567890 --dtmf 55                 # a confirmed silent emergency
    """
    import tempfile
    import time
    from pathlib import Path

    from ivr import channel_vars as var
    from ivr.asterisk_peer import Caller, Channel, HangUp, Sounds, run_call
    from ivr.simulate import agent_interface, caller_presses, channel_variables, spoken_statement

    settings = obj.settings
    if answer_as and abandon_after is not None:
        raise click.UsageError("--answer-as and --abandon-after cannot both happen to one call")
    try:
        presses = caller_presses(dtmf)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--dtmf") from None
    interface = None
    if answer_as:
        try:
            with obj.runtime.database.session() as session:
                interface = agent_interface(session, answer_as)
        except LookupError as error:
            raise click.BadParameter(str(error), param_hint="--answer-as") from None
    host, port = host or settings.bind_host, port or settings.agi_port
    with tempfile.TemporaryDirectory(prefix="siaga112-call-") as scratch:
        if audio is None and not silent and not dtmf.endswith("55"):
            audio = str(spoken_statement(Path(scratch)))
        caller = Caller(presses=presses, speech=audio,
                        hangup=HangUp(after=hangup_after) if hangup_after is not None else None)
        channel = Channel(script=script, caller_id=None if caller_id.lower() == "unknown" else caller_id,
                          caller_name=caller_name, language=settings.language,
                          variables=channel_variables(geolocation, access_info))
        record = run_call(host, port, channel, caller, sounds=Sounds(missing_length=PROMPT_SAMPLES_WHEN_ABSENT))
    for exchange in record.exchanges:
        click.echo(f"{exchange.call_time:7.2f}s  {exchange.line}  ->  {exchange.reply.strip()}")
    for name, value in record.variables_set:
        click.echo(f"set {name} = {value}")
    if record.error:
        click.echo(f"error: {record.error}")
    click.echo(f"AGISTATUS={record.agi_status}")
    call_id = record.value(var.SIAGA_CALL_ID)
    if script != "ivr" or record.agi_status != "SUCCESS" or not call_id or hangup_after is not None:
        return

    def step(name: str, variables: dict, answered: bool = True):
        hook = Channel(script=name, caller_id=channel.caller_id, context="agent-connect", extension="s",
                       uniqueid=channel.uniqueid if name == "call-ended" else Channel().uniqueid,
                       answered=answered, variables=variables)
        return run_call(host, port, hook, Caller())

    if interface:
        step("agent-connected", {var.SIAGA_CALL_ID: call_id, var.MEMBERINTERFACE: interface, var.QUEUENAME: "112",
                                 var.CONNECTEDLINE_NUM: channel.caller_id or ""})
        click.echo(f"call {call_id} answered on {interface}; the caller hangs up in {talk:g} s")
        time.sleep(max(0.0, talk))
    elif abandon_after is not None:
        click.echo(f"call {call_id} waits in the queue; the caller gives up in {abandon_after:g} s")
        time.sleep(max(0.0, abandon_after))
    else:
        click.echo(f"call {call_id} waits in the queue (answer it with --answer-as, or give up with --abandon-after)")
        return
    step("call-ended", {var.SIAGA_CALL_ID: call_id})
    click.echo(f"call {call_id} ended")


commands: list = [simulate_call]
import_commands: list = [import_cells_command]
seed_commands: list = []
