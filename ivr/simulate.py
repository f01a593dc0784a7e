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


SERVICE_KEYS = "1234"
SILENT_EMERGENCY = "55"


def caller_presses(dtmf: str):
    """The keys of `--dtmf`, each pressed where our IVR listens for it.

    A service key (1-4) answers the service choice; "55" answers the silent-caller check (the
    first 5 interrupts its prompt, the second answers the wait after it), so `--dtmf 55` and `--dtmf 255`
    confirm a silent emergency as a caller who cannot speak would. Other keys go to the next
    step that listens, in order.
    """
    from ivr.asterisk_peer import Press

    presses, rest = [], dtmf
    if rest[:1] and rest[0] in SERVICE_KEYS:
        presses.append(Press(rest[0]))
        rest = rest[1:]
    if rest.startswith(SILENT_EMERGENCY):
        presses.append(Press(SILENT_EMERGENCY, during="silent_check"))
        rest = rest[len(SILENT_EMERGENCY):]
    presses += [Press(key) for key in rest]
    return presses


def spoken_statement(folder: Path, seconds: float = 2.0) -> Path:
    """A WAV that is not silence (a falling two-tone, 8 kHz mono), for a demo caller who "speaks":
    a call whose statement is silent is offered the silent-caller check and shows as silent."""
    import math
    import struct
    import wave

    path = folder / "statement.wav"
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = bytearray()
        for n in range(int(seconds * rate)):
            pitch = 220 + 140 * math.sin(2 * math.pi * 2.5 * n / rate)
            value = 0.3 * math.sin(2 * math.pi * pitch * n / rate) + 0.15 * math.sin(2 * math.pi * 3.1 * pitch * n / rate)
            frames += struct.pack("<h", int(value * 32767 * 0.8))
        out.writeframes(bytes(frames))
    return path


def agent_interface(session, who: str) -> str:
    """`--answer-as`: a phone interface as given (TECH/resource), or the one of the console user named."""
    from sqlalchemy import select

    from siaga112.models import User

    if "/" in who:
        return who
    row = session.execute(select(User.phone_interface).where(User.username == who)).first()
    if row is None:
        raise LookupError(f"there is no console user {who!r}")
    if not row.phone_interface:
        raise LookupError(f"user {who!r} has no phone interface; create the user with --phone-interface PJSIP/1001")
    return row.phone_interface
