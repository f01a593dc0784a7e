"""`serve` killed with -9 in the middle of calls, and stopped with SIGTERM in the middle of a backlog.

A kill leaves calls half through the IVR and, with the database away, calls only in the call
journal: the next `serve` writes the journal and takes the answers and ends, every call once.
SIGTERM stops `serve` within 10 s whatever it was doing (encodes of a backlog of recordings
interrupted), and the next start finishes the work.
"""

from __future__ import annotations

import asyncio
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from ivr import channel_vars as var
from ivr.asterisk_peer import AsteriskPeer, Caller, Channel, Sounds
from siaga112.models import Call, Recording
from tests.support.waiting import wait_until
from tests.chaos.calls import CALLS_PER_PHASE, place_calls
from tests.recordings.factories import add_call, add_recording

pytestmark = pytest.mark.chaos

STOP_LIMIT_S = 10.0  # systemd's default is 90 s; an operator's patience is less


def answer_and_end(port: int, uniqueid: str, caller_id: str, call_id: str | None) -> None:
    """What Asterisk does after an IVR that broke off: the queue connects a call-taker, then the hang-up."""
    sounds = Sounds(dirs=[], missing_length=800)
    variables = {var.CONNECTEDLINE_NUM: caller_id, var.MEMBERINTERFACE: "PJSIP/1002", "CALLERID(num)": "112"}
    if call_id:
        variables[var.SIAGA_CALL_ID] = call_id

    async def legs():
        await AsteriskPeer("127.0.0.1", port, Channel(script="agent-connected", context="agent-connect", extension="s",
                                                      answered=True, variables=variables), Caller(), sounds=sounds,
                           timeout=20).run()
        await AsteriskPeer("127.0.0.1", port, Channel(script="call-ended", uniqueid=uniqueid, caller_id=caller_id,
                                                      extension="h", answered=True,
                                                      variables={var.SIAGA_CALL_ID: call_id} if call_id else {}),
                           Caller(), sounds=sounds, timeout=20).run()

    asyncio.run(legs())


def test_a_kill_of_serve_mid_call_and_with_calls_only_in_the_journal_loses_and_doubles_nothing(
        chaos_postgres, chaos_database, serve_process):
    serve = serve_process(chaos_database.url, "agi")
    # Calls half through the IVR (prompts in real time) when serve is killed.
    channels = [Channel(caller_id=f"+62813{n:07d}") for n in range(CALLS_PER_PHASE)]
    records: list = []

    def mid_ivr_calls():
        async def run():
            return await asyncio.gather(*(
                AsteriskPeer("127.0.0.1", serve.ports["agi"], channel, Caller(),
                             sounds=Sounds(dirs=[], missing_length=8000), realtime=True, timeout=30).run()
                for channel in channels), return_exceptions=True)

        records.extend(asyncio.run(run()))

    caller_thread = threading.Thread(target=mid_ivr_calls)
    caller_thread.start()

    def opened() -> int:
        with chaos_database.session() as session:
            return session.scalar(select(func.count()).select_from(Call)) == len(channels)

    wait_until(opened, timeout=20)
    serve.kill()
    caller_thread.join(30)
    call_ids = {}
    for channel, record in zip(channels, records):
        value = None if isinstance(record, BaseException) else record.value(var.SIAGA_CALL_ID)
        call_ids[channel.uniqueid] = value  # None if the kill came before SET VARIABLE: found by uniqueid

    # Then, with the database stopped, whole calls that only the journal holds; killed again.
    chaos_postgres.stop()
    serve.start()
    journaled = place_calls(serve.ports["agi"], 700, "journal-then-kill")
    serve.kill()
    chaos_postgres.start()

    serve.start()  # the next process: replays the journal, takes the answers and ends
    for channel in channels:
        answer_and_end(serve.ports["agi"], channel.uniqueid, channel.caller_id, call_ids[channel.uniqueid])

    expected = sorted([c.uniqueid for c in channels] + [c["uniqueid"] for c in journaled])

    def all_completed():
        with chaos_database.session() as session:
            rows = session.execute(select(Call.uniqueid, Call.state, Call.answered_at)).all()
        return rows if len(rows) == len(expected) and all(r.state == "completed" for r in rows) else None

    rows = wait_until(all_completed, timeout=30)
    assert sorted(r.uniqueid for r in rows) == expected
    assert all(r.answered_at is not None for r in rows)


def write_wav(path: Path, seconds: float) -> Path:
    samples = (np.sin(np.arange(int(8000 * seconds)) * 2 * np.pi * 440 / 8000) * 6000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(samples.tobytes())
    return path


def test_sigterm_stops_serve_within_10_s_during_a_backlog_of_encodes_and_the_next_start_finishes_it(
        tmp_path, chaos_database, serve_process):
    recordings = tmp_path / "recordings"
    recordings.mkdir(exist_ok=True)
    ids = []
    for number in range(4):
        call_id = add_call(chaos_database)
        ids.append(add_recording(chaos_database, call_id, write_wav(recordings / f"call-{number}-full.wav", 120)))
    serve = serve_process(chaos_database.url, "agi,scheduler", recordings_dir=str(recordings))
    browser = tmp_path / "browser"

    wait_until(lambda: browser.exists() and list(browser.glob("*.part")), timeout=40, every=0.05)
    took = serve.terminate()
    print(f"chaos: serve stopped on SIGTERM in {took:.1f} s during a backlog of encodes")
    assert took < STOP_LIMIT_S, "".join(serve.log[-20:])
    assert not list(browser.glob("*.part"))  # an interrupted encode leaves nothing half-written

    def copies() -> int:
        with chaos_database.session() as session:
            return session.scalar(select(func.count()).select_from(Recording)
                                  .where(Recording.id.in_(ids), Recording.browser_path.is_not(None)))

    made_before = copies()
    assert made_before < len(ids)  # it was stopped in the middle of the backlog
    serve.start()
    wait_until(lambda: copies() == len(ids), timeout=60, every=0.25)
    assert "FileNotFoundError" not in "".join(serve.log)


def test_sigterm_stops_serve_within_10_s_while_postgresql_is_hung_and_its_calls_are_kept(
        chaos_postgres, chaos_database, serve_process):
    serve = serve_process(chaos_database.url, "agi,alarms")
    chaos_postgres.hang()
    try:
        placed = place_calls(serve.ports["agi"], 800, "hung-then-sigterm")
        took = serve.terminate()
    finally:
        chaos_postgres.resume()
    print(f"chaos: serve stopped on SIGTERM in {took:.1f} s with PostgreSQL hung")
    assert took < STOP_LIMIT_S, "".join(serve.log[-20:])

    serve.start()  # the next start writes what the journal kept

    def on_record():
        with chaos_database.session() as session:
            rows = session.execute(select(Call.uniqueid, Call.state)).all()
        return rows if len(rows) == len(placed) and all(r.state == "completed" for r in rows) else None

    rows = wait_until(on_record, timeout=30)
    assert sorted(r.uniqueid for r in rows) == sorted(call["uniqueid"] for call in placed)
