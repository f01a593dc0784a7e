"""What the network says about where the caller is, read from the channel the dialplan filled.

One reading for both entries (`intake`, queue first, and the `ivr` menu): the whole PIDF-LO an
SBC handed over (SIAGA_PIDF_LO) first; else the shape Asterisk parsed from the INVITE's body
(SIAGA_GEOLOC_*, asked for only when a Geolocation header came); and the serving cell from
P-Access-Network-Info. Anything unreadable is logged and left out: a caller is never held up by
their location.
"""

from __future__ import annotations

import logging

from ivr import channel_vars as var
from ivr.identity import clean_text
from ivr.location import (
    CellId, Fix, LocationError, decode_pidf_variable, parse_access_network_info, parse_geoloc_profile, parse_pidf_lo,
)
from ivr.session import AgiSession

log = logging.getLogger(__name__)


async def network_location(agi: AgiSession, label: str) -> tuple[list[Fix], CellId | None]:
    """The fixes and the serving cell the network sent with this call (`label` names it in the log)."""
    header = clean_text(await agi.get_variable(var.GEOLOCATION), 200)
    access_info = await agi.get_variable(var.ACCESS_NETWORK_INFO)
    body = await agi.get_variable(var.PIDF_LO_BODY)
    fixes: list[Fix] = []
    try:
        document = decode_pidf_variable(body)
        if document is not None:
            fixes = parse_pidf_lo(document)
    except LocationError as error:
        log.info("call %s: PIDF-LO ignored: %s", label, error)
    if not fixes and header:
        fixes = await _parsed_location(agi, header, label)
    for fix in fixes:
        if header:
            fix.detail["geolocation"] = header
    cell = None
    try:
        cell = parse_access_network_info(clean_text(access_info, 300))
    except LocationError as error:
        log.info("call %s: serving cell ignored: %s", label, error)
    return fixes, cell


async def _parsed_location(agi: AgiSession, header: str, label: str) -> list[Fix]:
    shape = await agi.get_variable(var.GEOLOC_LOCATION)
    if not shape:
        log.info("call %s: Geolocation %r, but Asterisk parsed no location (no PIDF-LO by value, or the "
                 "trunk has no geoloc_incoming_call_profile)", label, header[:80])
        return []
    try:
        return parse_geoloc_profile(
            await agi.get_variable(var.GEOLOC_FORMAT), shape,
            confidence=await agi.get_variable(var.GEOLOC_CONFIDENCE),
            method=await agi.get_variable(var.GEOLOC_METHOD))
    except LocationError as error:
        log.info("call %s: location ignored: %s", label, error)
        return []
