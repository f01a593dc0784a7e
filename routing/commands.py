"""Command-line commands of routing."""

import click

from siaga112.cli import pass_context

commands: list = []
import_commands: list = []
seed_commands: list = []


@click.group("button")
def button() -> None:
    """Panic-button sites: SIA DC-09 panel accounts and signed IP buttons."""


@button.command("add")
@click.option("--account", default=None, help="SIA DC-09 account (3-16 hex characters).")
@click.option("--site", "site_name", required=True, help="Name of the site, e.g. \"Bank BRI Klojen\".")
@click.option("--lat", required=True, type=float)
@click.option("--lon", required=True, type=float)
@click.option("--key", default=None, help="AES key of an encrypted account (16, 24 or 32 hex characters).")
@click.option("--secret", default=None,
              help="HMAC secret of an IP button, at least 16 characters (needs --device).")
@click.option("--device", "device_id", default=None,
              help="Device id an IP button sends in its events (an IP button needs it and --secret; "
                   "an alarm panel needs --account instead).")
@click.option("--interval", "interval_s", type=int, default=None,
              help="Seconds between the panel's reports; silence past it (plus the grace) raises panel offline.")
@pass_context
def button_add(obj, account, site_name, lat, lon, key, secret, device_id, interval_s) -> None:
    """Register (or update) a panic-button site.

    \b
    An alarm panel (SIA DC-09):  --account 1234 [--key HEX] [--interval 300]
    An IP button (webhook):      --device BTN-01 --secret 'at least 16 characters'
    """
    from routing.alarms.sites import register_site

    try:
        with obj.runtime.database.session() as session:
            site, created = register_site(session, name=site_name, lat=lat, lon=lon, account=account, key=key,
                                          secret=secret, device_id=device_id, interval_s=interval_s)
            summary = f"site {site.id} {site.name!r} {'registered' if created else 'updated'}"
            parts = [f"account {site.account}" + (" (encrypted)" if site.aes_key else "") if site.account else "",
                     f"device {site.device_id}" if site.device_id else ""]
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary + ": " + ", ".join(p for p in parts if p))


commands.append(button)


# --- Places, units, cameras -------------------------------------------------------------------

def _rules(obj):
    from routing.rules import RulesError, load_rules

    try:
        return load_rules(obj.runtime.settings.routing_rules)
    except RulesError as error:
        raise click.ClickException(str(error)) from None


@click.command("boundaries")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--level", type=click.Choice(["kecamatan", "kelurahan", "kota"]), required=True,
              help="What the polygons are; each kecamatan gets its police sector (Polsek).")
@pass_context
def import_boundaries_command(obj, path, level) -> None:
    """Load jurisdiction boundaries from a GeoJSON FeatureCollection."""
    from routing.places import ImportProblem, import_boundaries

    try:
        with obj.runtime.database.session() as session:
            counts = import_boundaries(session, path, level)
    except ImportProblem as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{level}: {counts['created']} added, {counts['updated']} updated")


@click.command("pois")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_context
def import_pois_command(obj, path) -> None:
    """Load police stations, hospitals and puskesmas, fire stations (GeoJSON points: kind, name, agency)."""
    from routing.places import ImportProblem, import_pois

    try:
        with obj.runtime.database.session() as session:
            counts = import_pois(session, path)
    except ImportProblem as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"points of interest: {counts['created']} added, {counts['updated']} updated")


@click.command("demo")
@pass_context
def seed_demo_command(obj) -> None:
    """Load the demo city (boundaries, agencies, units, hospitals, cameras); safe to run again."""
    from routing.demo import seed_demo

    rules = _rules(obj)
    with obj.runtime.database.session() as session:
        added = seed_demo(session, rules)
    click.echo("demo city: " + ", ".join(f"{count} {name} added" for name, count in added.items()))


@click.group("unit")
def unit() -> None:
    """Field units of the agencies in the routing rules."""


@unit.command("add")
@click.argument("callsign")
@click.option("--agency", required=True, help="An agency key of the routing rules, e.g. damkar.")
@click.option("--kind", default=None, help="patrol, ambulance, fire_engine, rescue, ... (default: the agency's first kind).")
@click.option("--phone", default=None, help="The unit's phone (E.164) for dispatch SMS.")
@click.option("--lat", type=float, default=None, help="Where the unit is stationed (with --lon).")
@click.option("--lon", type=float, default=None)
@pass_context
def unit_add(obj, callsign, agency, kind, phone, lat, lon) -> None:
    """Register a field unit."""
    from routing.units import UnitProblem, add_unit

    rules = _rules(obj)
    try:
        with obj.runtime.database.session() as session:
            created = add_unit(session, rules, callsign, agency, kind, phone=phone, lat=lat, lon=lon)
            summary = f"unit {created.callsign} added ({agency}, {created.kind})"
    except UnitProblem as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary)


@click.group("camera")
def camera() -> None:
    """CCTV cameras listed near incidents."""


@camera.command("add")
@click.argument("name")
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--stream-url", default=None, help="rtsp:// or http(s):// live stream.")
@click.option("--snapshot-url", default=None, help="http(s):// still image.")
@pass_context
def camera_add(obj, name, lat, lon, stream_url, snapshot_url) -> None:
    """Register (or update, by name) a CCTV camera."""
    from routing.cameras import CameraProblem, add_camera

    try:
        with obj.runtime.database.session() as session:
            added = add_camera(session, name, lat, lon, stream_url=stream_url, snapshot_url=snapshot_url)
            summary = f"camera {added.id} {added.name!r} at {added.lat:.5f},{added.lon:.5f}"
    except CameraProblem as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary)


commands.extend([unit, camera])
import_commands.extend([import_boundaries_command, import_pois_command])
seed_commands.append(seed_demo_command)
