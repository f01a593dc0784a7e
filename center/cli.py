"""The `siaga112` command of the whole centre: the frame's commands, `serve`, and each domain's own.

Domain commands live beside their domain (`ivr/commands.py`, `routing/commands.py`,
`recordings/commands.py`) and are added here, explicitly, in one place.
"""

from __future__ import annotations

import click

from siaga112.cli import CliContext, cli, import_group, pass_context, seed

STOP_BUDGET_S = 7.0  # within the 10 s promised, with room for a loaded machine; systemd would wait 90 s


@cli.command()
@click.option("--only", default="", help="Comma-separated services to run: agi,ami,web,alarms,scheduler.")
@pass_context
def serve(obj: CliContext, only: str) -> None:
    """Run the services (default: all of them, in this process, on loopback)."""
    from center.serve import SERVICE_FACTORIES, SERVICE_NAMES
    from siaga112.serve import run

    names = [n.strip() for n in only.split(",") if n.strip()] or list(SERVICE_NAMES)
    unknown = [n for n in names if n not in SERVICE_NAMES]
    if unknown:
        raise click.BadParameter(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}")
    run(obj.runtime, SERVICE_FACTORIES, names, stop_budget_s=STOP_BUDGET_S)


def _add_domain_commands() -> None:
    """Domain commands, in one explicit table."""
    from ivr import commands as ivr_commands
    from location_link import commands as location_link_commands
    from recordings import commands as recordings_commands
    from routing import commands as routing_commands

    for module in (ivr_commands, routing_commands, recordings_commands, location_link_commands):
        for command in getattr(module, "commands", []):
            cli.add_command(command)
        for command in getattr(module, "import_commands", []):
            import_group.add_command(command)
        for command in getattr(module, "seed_commands", []):
            seed.add_command(command)


_add_domain_commands()


def main() -> None:
    cli(prog_name="siaga112")


if __name__ == "__main__":
    main()
