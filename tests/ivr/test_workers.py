"""`agi_workers`: several FastAGI processes on one port, every call still queued and stored."""

from __future__ import annotations

import asyncio
import dataclasses
import os

from sqlalchemy import func, select

from ivr.asterisk_peer import Caller, Channel
from ivr.hooks import IvrHooks
from ivr.server import AgiService
from siaga112.models import Call
from siaga112.runtime import Runtime

from .conftest import peer


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_two_workers_share_the_port_and_every_call_is_queued(runtime, database):
    settings = dataclasses.replace(runtime.settings, agi_workers=2)
    service = AgiService(Runtime(settings=settings, database=database), hooks=IvrHooks())
    service.start()
    try:
        [worker] = service.workers.pids
        before = cpu_ticks(worker)

        async def calls():
            return await asyncio.gather(*(
                peer(service, Channel(caller_id=f"+62812345{n:05d}", uniqueid=f"1795346261.{n}"), Caller()).run()
                for n in range(60)))

        records = asyncio.run(calls())
        worked = cpu_ticks(worker) - before
    finally:
        service.stop()

    assert [r.agi_status for r in records] == ["SUCCESS"] * 60
    with database.session() as session:
        queued = session.scalar(select(func.count()).select_from(Call).where(Call.state == "queued"))
    assert queued == 60
    assert worked > 0, "the worker process served none of the calls"
    assert not os.path.exists(f"/proc/{worker}") or open(f"/proc/{worker}/stat").read().split()[2] == "Z"
