"""pysiaalarm's own asyncio receiver with a no-op callback, as shipped: the alarms benchmark's ceiling.

Run in a process of its own by `bench/alarms.py`, so that nothing of Siaga112 is imported
into it (Siaga112 gives pysiaalarm a compiled CRC; this one keeps pysiaalarm's own). Prints
its port, serves until its standard input closes.

    python -m bench.bare_sia ACCOUNT [ACCOUNT ...]
"""

from __future__ import annotations

import asyncio
import sys

from pysiaalarm import SIAAccount
from pysiaalarm.aio import SIAClient


async def main(accounts: list[str]) -> None:
    async def noop(event):
        return None

    client = SIAClient("127.0.0.1", 0, [SIAAccount(account) for account in accounts], noop)
    await client.async_start()
    print(client.server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await client.async_stop()


if __name__ == "__main__":
    assert "routing.alarms.dc09" not in sys.modules
    asyncio.run(main(sys.argv[1:]))
