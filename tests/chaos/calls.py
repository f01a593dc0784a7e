"""Calls as Asterisk places them, for the chaos tests: the IVR, the call-taker's answer, the hang-up."""

from __future__ import annotations

import asyncio
import time

from ivr import channel_vars as var
from ivr.asterisk_peer import AsteriskPeer, Caller, Channel, Press, Sounds

CALLS_PER_PHASE = 6
# The IVR gives up on a database write after ivr_db_timeout_seconds (0.8 s); the rest of a
# simulated call takes no real time. A caller is let go well within a second of that.
RELEASE_LIMIT_S = 2.0


async def one_call(port: int, number: int, phase: str) -> dict:
    """A caller's whole call: the IVR, a call-taker answering, the hang-up. What Asterisk saw."""
    sounds = Sounds(dirs=[], missing_length=800)
    caller = Channel(caller_id=f"+62812{number:07d}")
    started = time.monotonic()
    ivr = await AsteriskPeer("127.0.0.1", port, caller, Caller(presses=[Press("1", during="prompt")]),
                             sounds=sounds, timeout=20).run()
    released = time.monotonic() - started
    agent_vars = {var.CONNECTEDLINE_NUM: caller.caller_id, var.MEMBERINTERFACE: "PJSIP/1001", "CALLERID(num)": "112"}
    for name in (var.SIAGA_CALL_ID, var.SIAGA_UNIQUEID):
        if ivr.value(name):
            agent_vars[name] = ivr.value(name)
    started = time.monotonic()
    agent = await AsteriskPeer("127.0.0.1", port, Channel(script="agent-connected", context="agent-connect",
                                                          extension="s", answered=True, variables=agent_vars),
                               Caller(), sounds=sounds, timeout=20).run()
    bridged = time.monotonic() - started
    end_vars = {var.SIAGA_CALL_ID: ivr.value(var.SIAGA_CALL_ID)} if ivr.value(var.SIAGA_CALL_ID) else {}
    await AsteriskPeer("127.0.0.1", port, Channel(script="call-ended", uniqueid=caller.uniqueid, extension="h",
                                                  caller_id=caller.caller_id, answered=True, variables=end_vars),
                       Caller(), sounds=sounds, timeout=20).run()
    return {"uniqueid": caller.uniqueid, "phase": phase, "agi_status": ivr.agi_status,
            "priority": int(ivr.value(var.QUEUE_PRIO) or 0), "released_s": released, "bridged_s": bridged,
            "answered": agent.agi_status == "SUCCESS"}


def place_calls(port: int, first: int, phase: str) -> list[dict]:
    async def all_calls():
        return await asyncio.gather(*(one_call(port, first + n, phase) for n in range(CALLS_PER_PHASE)))

    return asyncio.run(all_calls())
