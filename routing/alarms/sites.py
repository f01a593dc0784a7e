"""Panic-button sites: a bank, gold shop or cooperative with a DC-09 account and/or an IP button."""

from __future__ import annotations

import re

from pysiaalarm import SIAAccount
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from routing.geo import validate_point
from siaga112.i18n import Problem
from siaga112.models import AlarmSite

ACCOUNT = re.compile(r"""
    ^(?P<account>[0-9A-F]{3,16})$   # a DC-09 account number in hex, e.g. "1234" or "12345A"
""", re.VERBOSE)
DEVICE_ID = re.compile(r"""
    ^(?P<device>[A-Za-z0-9][A-Za-z0-9._:-]{0,119})$   # e.g. "btn-bri-klojen-01" or a MAC "00:1A:2B:3C:4D:5E"
""", re.VERBOSE)
MIN_SECRET_CHARS = 16


def register_site(session: Session, *, name: str, lat, lon, account: str | None = None, key: str | None = None,
                  secret: str | None = None, device_id: str | None = None,
                  interval_s: int | None = None) -> tuple[AlarmSite, bool]:
    """Register (or update) a site; returns (site, created). Raises ValueError with a sentence."""
    name = (name or "").strip()
    if not name:
        raise Problem("A site needs a name.", "site.no_name")
    lat, lon = validate_point(lat, lon)
    if not account and not device_id:
        raise Problem("Give a DC-09 account (--account) or an IP button device (--device), or both.", "site.no_account")
    if account:
        account = account.strip().upper()
        if not ACCOUNT.match(account):
            raise Problem("A DC-09 account is 3 to 16 hexadecimal characters.", "site.bad_account")
    if key:
        key = key.strip()
        if not account:
            raise Problem("An AES key belongs to a DC-09 account; give --account too.", "site.key_without_account")
        try:
            SIAAccount.validate_account(key=key)
        except Exception:
            raise Problem("The AES key must be 16, 24 or 32 hexadecimal characters.", "site.bad_key") from None
    if device_id:
        device_id = device_id.strip()
        if not DEVICE_ID.match(device_id):
            raise Problem("A device id is letters, digits and . _ : - (at most 120).", "site.bad_device")
        if not secret:
            raise Problem("An IP button needs its HMAC secret (--secret) to sign its events.", "site.no_secret")
    if secret:
        if not device_id:
            raise Problem("A secret belongs to an IP button; give --device too.", "site.secret_without_device")
        if len(secret) < MIN_SECRET_CHARS:
            raise Problem(f"The button secret must be at least {MIN_SECRET_CHARS} characters.", "site.short_secret",
                          chars=MIN_SECRET_CHARS)
    if interval_s is not None and int(interval_s) <= 0:
        raise ValueError("The supervision interval is a number of seconds above zero.")
    matches = session.scalars(select(AlarmSite).where(or_(
        AlarmSite.account == account if account else False,
        AlarmSite.device_id == device_id if device_id else False,
    ))).all()
    if len(matches) > 1:
        raise ValueError("That account and that device belong to two different sites already.")
    site = matches[0] if matches else AlarmSite()
    created = not matches
    site.name, site.lat, site.lon = name, lat, lon
    if account:
        site.account, site.aes_key = account, key or None
    if device_id:
        site.device_id, site.secret = device_id, secret
    if interval_s is not None:
        site.supervision_interval_s = int(interval_s)
    if created:
        site.offline = False
        session.add(site)
    session.flush()
    return site, created



def site_json(site: AlarmSite) -> dict:
    """A site without its secrets."""
    from siaga112.db import iso

    return {"id": site.id, "name": site.name, "account": site.account, "device_id": site.device_id,
            "lat": site.lat, "lon": site.lon, "encrypted": bool(site.aes_key),
            "supervision_interval_s": site.supervision_interval_s, "last_seen_at": iso(site.last_seen_at),
            "offline": site.offline}
