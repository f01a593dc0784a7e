"""What `simulate-call` puts on the simulated channel: the location the network would send."""

from __future__ import annotations

import base64
from pathlib import Path

from ivr import channel_vars as var


def channel_variables(geolocation: str | None, access_info: str | None) -> dict[str, str]:
    """Channel variables of a call carrying a PIDF-LO (by value) and/or its serving cell,
    as the shipped dialplan fills them (see ivr/channel_vars.py)."""
    variables: dict[str, str] = {}
    if geolocation:
        document = Path(geolocation).read_bytes()
        variables[var.GEOLOCATION] = "<cid:location@siaga112.invalid>"
        variables[var.PIDF_LO_BODY] = base64.b64encode(document).decode("ascii")
    if access_info:
        variables[var.ACCESS_NETWORK_INFO] = access_info
    return variables
