"""Fixtures of the call path: the real FastAGI server on an ephemeral port, and calls into it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from ivr.asterisk_peer import AgiRecord, AsteriskPeer, Caller, Channel, Sounds
from ivr.hooks import IvrHooks
from ivr.server import AgiService
from siaga112.models import Call, Event, LocationFix

# The flow is tested without the shipped prompts: every prompt plays for half a second of call time.
PROMPT_SAMPLES = 4000


@dataclass
class RecordingHooks:
    """Listeners that note what the IVR told them."""

    statements: list = field(default_factory=list)
    ended: list = field(default_factory=list)

    def statement_started(self, call_id, wav_path):
        self.statements.append(("started", call_id, wav_path))

    def statement_ended(self, call_id, wav_path):
        self.statements.append(("ended", call_id, wav_path))

    def __call__(self, call_id):
        self.ended.append(call_id)


@pytest.fixture
def hook_log():
    return RecordingHooks()


@pytest.fixture
def agi_server(runtime, hook_log):
    """The FastAGI service of `siaga112 serve`, listening on 127.0.0.1 at `agi_server.port`."""
    service = AgiService(runtime, hooks=IvrHooks(statement_listener=hook_log, call_ended_listener=hook_log))
    service.start()
    yield service
    service.stop()


def peer(agi_server, channel: Channel | None = None, caller: Caller | None = None, **options) -> AsteriskPeer:
    options.setdefault("sounds", Sounds(dirs=[], missing_length=PROMPT_SAMPLES))
    options.setdefault("timeout", 15.0)
    return AsteriskPeer("127.0.0.1", agi_server.port, channel or Channel(), caller or Caller(), **options)


# How long a call's entries kept in the journal may take to reach the database after the call.
SETTLE_SECONDS = 10.0


@pytest.fixture
def place_call(agi_server, request):
    """place_call(channel, caller) -> AgiRecord: one call through the real server, to its end.

    A write that ran past `ivr_db_timeout_seconds` on a busy test machine is kept in the call
    journal, as it should be, and reaches the database when the replayer writes it: the call is
    on record once that has happened, and so the test reads it then. (Tests that take the
    database away, with `outage`, read what was kept themselves.)
    """
    settle = "outage" not in request.fixturenames

    def place(channel: Channel | None = None, caller: Caller | None = None, **options) -> AgiRecord:
        record = asyncio.run(peer(agi_server, channel, caller, **options).run())
        if settle:
            journal_written(agi_server)
        return record

    return place


def journal_written(agi_server) -> None:
    """Wait (up to SETTLE_SECONDS) until the replayer has written what the call journal keeps."""
    if not agi_server.journal.any_waiting():
        return
    agi_server.replayer.wake()
    deadline = time.monotonic() + SETTLE_SECONDS
    while agi_server.journal.any_waiting() and time.monotonic() < deadline:
        time.sleep(0.05)


def call_row(database, call_id) -> Call:
    with database.session() as session:
        return session.get(Call, int(call_id))


def only_call(database) -> Call:
    with database.session() as session:
        calls = list(session.scalars(select(Call)))
    assert len(calls) == 1, f"expected one call, found {len(calls)}"
    return calls[0]


def fixes_of(database, call_id) -> list[LocationFix]:
    with database.session() as session:
        return list(session.scalars(select(LocationFix).where(LocationFix.call_id == int(call_id))
                                    .order_by(LocationFix.id)))


def events_of(database, kind: str) -> list[Event]:
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory):
    """Three seconds of a voice-loud tone at 8 kHz (not silent to the IVR nor to Asterisk's detector)."""
    import math
    import struct
    import wave

    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * n / 8000)))
                                 for n in range(8000 * 3)))
    return path
