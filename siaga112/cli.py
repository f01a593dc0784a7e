"""The `siaga112` command group and the frame's own commands: database, accounts and tokens.

`serve` and the domain commands (`ivr/commands.py`, `routing/commands.py`,
`recordings/commands.py`) are added by `center.cli`, explicitly, in one place.
"""

from __future__ import annotations

import logging
import sys

import click

from siaga112.runtime import Runtime
from siaga112.settings import load_settings


class CliContext:
    """Settings are read at once; the database and clients are built only when a command needs them."""

    def __init__(self) -> None:
        self.settings = load_settings()
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.from_settings(self.settings)
        return self._runtime


pass_context = click.make_pass_decorator(CliContext, ensure=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Siaga112: 112 call-center and command-center core."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.ensure_object(CliContext)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(obj: CliContext, revision: str) -> None:
    """Apply migrations (safe to run again)."""
    from siaga112.migrate import upgrade

    upgrade(obj.runtime.database, revision)
    click.echo(f"database at {revision}: {obj.runtime.database.engine.url.render_as_string(hide_password=True)}")


@cli.group()
def user() -> None:
    """Console accounts."""


@user.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["calltaker", "dispatcher", "supervisor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--phone-interface", default=None, help='Queue member interface of the phone, e.g. "PJSIP/1001".')
@click.option("--display-name", default=None)
@pass_context
def user_create(obj: CliContext, name: str, role: str, password_stdin: bool, phone_interface: str | None,
                display_name: str | None) -> None:
    """Create a console account."""
    from siaga112.auth import create_user

    if not password_stdin:
        raise click.UsageError("pass --password-stdin and give the password on standard input")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with obj.runtime.database.session() as session:
            create_user(session, name, role, password, display_name=display_name, phone_interface=phone_interface)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"user {name} created ({role})")


@user.command("unlock")
@click.argument("name")
@pass_context
def user_unlock(obj: CliContext, name: str) -> None:
    """Let an account sign in again after others' wrong passwords locked it (audit-logged)."""
    import getpass

    from sqlalchemy import func, select

    from siaga112.login_throttle import record_unlock
    from siaga112.models import User

    with obj.runtime.database.session() as session:
        account = session.scalar(select(User).where(func.lower(User.username) == name.strip().lower()))
        if account is None:
            raise click.ClickException(f"no user {name!r}")
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):
            operator = "unknown"
        record_unlock(session, account, f"cli:{operator}"[:120], via="cli")
    click.echo(f"user {account.username} may sign in again (the running console honours it at the next try)")


@cli.group()
def token() -> None:
    """Bearer tokens for machine clients."""


@token.command("create")
@click.argument("name")
@click.option("--scope", "scopes", required=True, help="Comma-separated scopes, e.g. alarms:write,units:write.")
@pass_context
def token_create(obj: CliContext, name: str, scopes: str) -> None:
    """Print a new bearer token (shown once; only its hash is kept)."""
    from siaga112.auth import create_token

    try:
        with obj.runtime.database.session() as session:
            value = create_token(session, name, [s.strip() for s in scopes.split(",") if s.strip()])
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(value)


@cli.group("import")
def import_group() -> None:
    """Load places and cell towers."""


@cli.group()
def seed() -> None:
    """Load data sets that ship with Siaga112."""
