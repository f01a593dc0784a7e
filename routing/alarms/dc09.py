"""SIA DC-09 frames: read one with pysiaalarm, decide what it means, and build the reply.

pysiaalarm does the parsing (CRC, decryption, SIA-DCS and ADM-CID content, Contact ID to SIA
code mapping, the timestamp window) and the reply frames. What it does not do is decide what
an event means for a command center; that is the `CONSEQUENCES` table below. The reply is
built here but sent by the receiver only after the frame's alarm is stored.

pysiaalarm computes the frame's CRC-16/ARC bit by bit in Python, twice per frame (the frame's,
then the reply's): about 50 us each, most of a bare receiver's time per frame. `fastcrc`
computes the same function in compiled code; `crc16` below is installed as pysiaalarm's CRC
when this module is imported (the tests check it against pysiaalarm's own on every kind of
frame). Nothing else of pysiaalarm changes.

Refusals follow DC-09: a frame whose CRC or length is wrong, that cannot be read or decrypted,
or whose timestamp is outside the window (-40 s / +20 s) gets NAK; a readable frame from an
account we do not know, or with a code we do not know, gets DUH.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

import fastcrc
from pysiaalarm import SIAAccount, SIAEvent
from pysiaalarm.errors import EventFormatError, NoAccountError
from pysiaalarm.event import NAKEvent, OHEvent
from pysiaalarm.utils import MAIN_MATCHER, MessageTypes, ResponseType

from routing.alarms.store import PRIORITY_PANEL_OTHER, PRIORITY_PANEL_URGENT, PRIORITY_TOP

MAX_FRAME_BYTES = 1024  # DC-09 frames are a few hundred bytes; more is not a frame

PYSIAALARM_CRC = SIAEvent._crc_calc  # pysiaalarm's own, kept for the tests to compare against


def crc16(message: str | None) -> str | None:
    """DC-09's CRC (CRC-16/ARC) of a frame body, as four upper-case hex digits, as pysiaalarm writes it."""
    if message is None:
        return None
    return f"{fastcrc.crc16.arc(message.encode()):04X}"


SIAEvent._crc_calc = staticmethod(crc16)


@dataclass(frozen=True)
class Consequence:
    """What a panel event means: an alarm (kind, routing category, priority), a restore, or only a sign of life."""

    action: str  # "alarm", "restore" or "alive"
    kind: str | None = None
    category: str | None = None
    priority: int | None = None


ALIVE = Consequence("alive")

# SIA event codes (Contact ID events arrive already mapped by pysiaalarm: 120 -> PA,
# 121 duress and 122 silent hold-up -> HA, 110 -> FA, 100 -> MA). Every valid code not named
# here is a sign of life: it is acknowledged and keeps the panel's supervision fresh.
CONSEQUENCES: dict[str, Consequence] = {
    "PA": Consequence("alarm", "panic", "crime", PRIORITY_TOP),
    "HA": Consequence("alarm", "holdup", "crime", PRIORITY_TOP),
    "FA": Consequence("alarm", "fire", "fire", PRIORITY_PANEL_URGENT),
    "GA": Consequence("alarm", "gas", "fire", PRIORITY_PANEL_URGENT),
    "KA": Consequence("alarm", "heat", "fire", PRIORITY_PANEL_URGENT),
    "MA": Consequence("alarm", "medical", "medical", PRIORITY_PANEL_URGENT),
    "QA": Consequence("alarm", "emergency", "medical", PRIORITY_PANEL_URGENT),
    "BA": Consequence("alarm", "burglary", "crime", PRIORITY_PANEL_OTHER),
    "PH": Consequence("restore", "panic"),
    "HH": Consequence("restore", "holdup"),
    "FH": Consequence("restore", "fire"),
    "MH": Consequence("restore", "medical"),
    "BH": Consequence("restore", "burglary"),
}

# Why a frame was refused: the receiver counts each kind.
REFUSALS = ("format", "crc", "length", "account", "encryption", "code", "timestamp", "oversize")


@dataclass
class Reading:
    """One frame read: the reply to send, and when accepted, what to store before sending it."""

    reply: bytes
    accepted: bool
    refusal: str | None = None
    account: str | None = None
    event: SIAEvent | None = None
    consequence: Consequence | None = None

    @property
    def retransmission_key(self) -> str | None:
        """Same account, sequence and content: a panel resending a frame it got no ACK for."""
        if self.event is None or self.consequence is None or self.consequence.action != "alarm":
            return None
        digest = hashlib.sha256((self.event.content or "").encode("utf-8")).hexdigest()[:24]
        return f"panel:{self.account}:{self.event.sequence}:{digest}"

    def describe(self) -> str:
        """The event in the console's words, e.g. "PA Panic Alarm zone 15"."""
        event = self.event
        code = event.sia_code
        zone = f" zone {event.ri}" if event.ri else ""
        name = code.type if code else event.code
        return f"{event.code} {name}{zone}".strip()


def nak() -> bytes:
    """NAK with the receiver's time, for a frame that cannot be trusted or stored."""
    return NAKEvent().create_response()


def _duh(event: SIAEvent) -> bytes:
    """DUH for a frame we could read but not act on, in pysiaalarm's unencrypted reply form."""
    body = f'"DUH"{event.sequence}{event.receiver or ""}{event.line}#{event.account}[]'
    return f"\n{crc16(body)}{len(body):04X}{body}\r".encode("ascii")


def read_frame(line: str, accounts: Mapping[str, SIAAccount]) -> Reading:
    """Read one frame (without its LF/CR) against the registered accounts."""
    line = line.strip()
    if len(line) > MAX_FRAME_BYTES:
        return Reading(nak(), False, "oversize")
    try:
        event = SIAEvent.from_line(line, accounts)
    except NoAccountError:
        # Encrypted, and we hold no key for the account: we cannot read it.
        account = _account_of(line)
        refusal = "account" if account not in accounts else "format"
        return Reading(nak() if refusal == "format" else _duh_for_line(line), False, refusal, account)
    except (EventFormatError, ValueError, UnicodeError):
        return Reading(nak(), False, "format")
    if event.receiver is None:  # no receiver number in the frame: the reply must not invent one
        event.receiver = ""
    if isinstance(event, OHEvent):
        return Reading(event.create_response(), True, account=event.account, event=event, consequence=ALIVE)
    if not event.valid_message:
        return Reading(nak(), False, "crc", event.account)
    if event.length is None or int(event.length, 16) != len(event.full_message or ""):
        return Reading(nak(), False, "length", event.account)
    if event.sia_account is None:
        return Reading(_duh(event), False, "account", event.account)
    if event.sia_account.encrypted and not event.encrypted:
        # An account registered with a key only speaks encrypted; plain text could be anyone.
        return Reading(_duh(event), False, "encryption", event.account, event)
    if event.encrypted and not isinstance(event.timestamp, datetime):
        # DC-09 puts a time stamp inside every encrypted message. Content decrypted with the
        # wrong key is noise that pysiaalarm's lenient reading can still take for an event
        # (about one frame in a hundred, and once in 7,200 even for an alarm to ACK): without
        # its time stamp it did not come from a panel holding the key.
        return Reading(nak(), False, "format", event.account)
    response = event.response
    if response == ResponseType.DUH:
        return Reading(event.create_response(), False, "code", event.account, event)
    if response == ResponseType.NAK:
        return Reading(event.create_response(), False, "timestamp", event.account, event)
    consequence = ALIVE if event.message_type == MessageTypes.NULL else CONSEQUENCES.get(event.code or "", ALIVE)
    return Reading(event.create_response(), True, account=event.account, event=event, consequence=consequence)


def _account_of(line: str) -> str | None:
    match = MAIN_MATCHER.match(line)
    return match.group("account") if match else None


def _duh_for_line(line: str) -> bytes:
    match = MAIN_MATCHER.match(line)
    event = SIAEvent(sequence=match.group("sequence"), receiver=match.group("receiver") or "",
                     line=match.group("line"), account=match.group("account"))
    return _duh(event)


def accounts_for(sites) -> dict[str, SIAAccount]:
    """pysiaalarm accounts for the registered sites (an AES key makes the account encrypted)."""
    return {site.account.upper(): SIAAccount(site.account.upper(), site.aes_key or None)
            for site in sites if site.account}


def build_frame(account: str, content: str, *, sequence: int = 1, message_type: str = "SIA-DCS",
                key: str | None = None, line: str = "L0", receiver: str = "",
                at: datetime | None = None) -> bytes:
    """A DC-09 frame as a panel sends it (LF ... CR), CRC and AES by pysiaalarm's own code.

    `content` is the event part, e.g. "Nri1/PA15" (SIA-DCS), "1120 01 015" (ADM-CID, Contact
    ID 120 panic) or "" (NULL). Used by the simulator, the tests and the benchmark.
    """
    at = at or datetime.now(timezone.utc)
    stamp = at.astimezone(timezone.utc).strftime("_%H:%M:%S,%m-%d-%Y")
    data = f"#{account}|{content}]{stamp}" if content else f"]{stamp}"
    if key:
        crypter = SIAEvent(sia_account=SIAAccount(account, key))
        body = f'"*{message_type}"{sequence:04d}{receiver}{line}#{account}[{crypter.encrypt_content(data)}'
    else:
        body = f'"{message_type}"{sequence:04d}{receiver}{line}#{account}[{data}'
    return f"\n{crc16(body)}{len(body):04X}{body}\r".encode("ascii")


def read_reply(data: bytes) -> str:
    """The response type of a receiver's reply: "ACK", "NAK", "DUH" or "RSP" (an encrypted "*ACK" too)."""
    text = data.decode("ascii", errors="replace").strip()
    for kind in ("ACK", "NAK", "DUH", "RSP"):
        if f'"{kind}"' in text or f'"*{kind}"' in text:
            return kind
    return "?"
