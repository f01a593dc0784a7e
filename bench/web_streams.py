"""The API's latency with hundreds of console event streams open, against the API alone.

`serve`'s web service (waitress, siaga112.web_server, the shipped settings) runs in a process of
its own on a fresh database with a queue of 20 calls. A second process holds N console event
streams (SSE, GET /api/v1/events) open, reading every byte; this process drives the API at a
steady rate (--rate requests a second, spread over C keep-alive clients), each request asking
for the queue (GET /api/v1/calls?state=queued, the console's busiest read). A request's latency
is counted from the moment it was due, not from when it could be sent, so a server that falls
behind is charged for the wait. Events are published at a steady rate in both phases, so every
open stream wakes, reads the new events and writes them out, as on a busy floor.

The two phases, the API alone and the API with the streams open, run in turns (--turns times
each, alternating), so a change in the machine's speed falls on both. The benchmark reports
p50, p99 and throughput for both, checks every stream stayed open and received every event, and
exits non-zero if the p99 with streams is above 2x the API alone.

    .venv/bin/python bench/web_streams.py [--streams 300] [--rate 40] [--clients 8] [--seconds 8]
                                          [--turns 3] [--events-per-second 2] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _settings(database_url: str, data_dir: str):
    from siaga112.settings import load_settings

    return load_settings(overrides={"data_dir": data_dir, "database_url": database_url, "recordings_dir": data_dir,
                                    "secret_key": "bench", "web_port": 0}, environ={})


# -- the server (its own process) -----------------------------------------------------------
def _serve(database_url: str, data_dir: str, port_out, stop) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from center.serve import WebService
    from siaga112.db import Database
    from siaga112.runtime import Runtime

    runtime = Runtime(settings=_settings(database_url, data_dir), database=Database(database_url))
    service = WebService(runtime)
    service.start()
    port_out.send(service.port)
    stop.wait()
    began = time.monotonic()
    service.stop()
    port_out.send(time.monotonic() - began)


# -- the console streams (their own process) -----------------------------------------------
def _hold_streams(port: int, token: str, count: int, ready, stop, results) -> None:
    async def one(index: int, tally: dict):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            tally["refused"] += 1
            writer.close()
            return
        tally["open"] += 1
        carry = b""  # the last bytes read, counted with the next read: a marker split in two counts once
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                tally["closed_early"] += 1
                return
            data = carry + chunk
            cut = max(0, len(data) - 16)  # markers starting before here are whole and counted now
            tally["events"] += data[:cut + 7].count(b"\nevent: ") - data.count(b"\nevent: heartbeat")
            carry = data[cut:]

    async def main():
        tally = {"open": 0, "refused": 0, "events": 0, "closed_early": 0}
        tasks = []
        for index in range(count):
            tasks.append(asyncio.create_task(one(index, tally)))
            if index % 50 == 49:
                await asyncio.sleep(0.05)
        while tally["open"] + tally["refused"] < count:
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        results.put(dict(tally))
        for task in tasks:
            task.cancel()

    asyncio.run(main())


# -- the API load (this process) -------------------------------------------------------------
async def _client(port: int, token: str, stop_at: float, interval: float, offset: float,
                  latencies: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"GET /api/v1/calls?state=queued HTTP/1.1\r\nHost: bench\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    due = time.perf_counter() + offset
    while time.monotonic() < stop_at:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        began = due  # charged from when it was due (no coordinated omission)
        due += interval
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(head.split(b"\r\n")[0])
        latencies.append(time.perf_counter() - began)
    writer.close()


def _load(port: int, token: str, clients: int, seconds: float, rate: float) -> tuple[list[float], list]:
    latencies: list[float] = []
    errors: list = []
    interval = clients / rate  # each client's share of the rate

    async def main():
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_client(port, token, stop_at, interval, interval * n / clients, latencies, errors)
                               for n in range(clients)))

    asyncio.run(main())
    return latencies, errors


def _publisher(database, per_second: float, stop) -> int:
    """Publish console events at a steady rate until `stop`; returns how many."""
    from siaga112 import events

    published = 0
    interval = 1.0 / per_second
    next_at = time.monotonic()
    while not stop.is_set():
        with database.session() as session:
            events.publish(session, "call.updated", {"id": 1, "bench": published})
        published += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
    return published


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _phase(name, port, token, args, database, streams: int, ctx) -> dict:
    import threading

    stream_stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    holder = None
    if streams:
        holder = ctx.Process(target=_hold_streams, args=(port, token, streams, ready, stream_stop, results))
        holder.start()
        if not ready.wait(60):
            raise SystemExit("the streams did not open within 60 s")
    stop = threading.Event()
    counter = {}
    publisher = threading.Thread(target=lambda: counter.setdefault("n", _publisher(database, args.events_per_second, stop)))
    publisher.start()
    _load(port, token, args.clients, 1.0, args.rate)  # warm-up: connections, caches
    latencies, errors = _load(port, token, args.clients, args.seconds, args.rate)
    stop.set()
    publisher.join()
    tally = None
    if holder is not None:
        time.sleep(1.0)  # the last events reach the streams
        stream_stop.set()
        tally = results.get(timeout=30)
        holder.join(timeout=30)
    return {"name": name, "latencies": [v * 1000 for v in latencies], "seconds": args.seconds,
            "errors": len(errors), "streams": tally, "published": counter.get("n", 0)}


def _merge(phases: list[dict]) -> dict:
    ms = [v for p in phases for v in p["latencies"]]
    tallies = [p["streams"] for p in phases if p["streams"]]
    return {"name": phases[0]["name"], "requests": len(ms), "per_second": len(ms) / sum(p["seconds"] for p in phases),
            "p50": statistics.median(ms), "p99": _percentile(ms, 0.99), "max": max(ms),
            "errors": sum(p["errors"] for p in phases),
            "streams": {key: sum(t[key] for t in tallies) for key in tallies[0]} if tallies else None,
            "expected_events": sum(t["open"] * p["published"] for p, t in zip(phases, tallies)) if tallies else 0,
            "turns": [(_percentile(p["latencies"], 0.5), _percentile(p["latencies"], 0.99)) for p in phases]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--rate", type=float, default=40.0, help="API requests a second")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0, help="each phase of each turn")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--events-per-second", type=float, default=2.0)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL from SIAGA112_TEST_POSTGRES_URL")
    args = parser.parse_args()

    from siaga112 import auth
    from siaga112.db import Database, utcnow
    from siaga112.migrate import upgrade
    from siaga112.models import Call

    data_dir = tempfile.mkdtemp(prefix="siaga112-bench-web-")
    if args.postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        server = make_url(os.environ["SIAGA112_TEST_POSTGRES_URL"])
        name = f"bench_web_{os.getpid()}"
        with create_engine(server, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = server.set(database=name).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{data_dir}/bench.db"
    database = Database(database_url)
    upgrade(database)
    with database.session() as session:
        token = auth.create_token(session, "bench", ["calls:read"])
        for n in range(20):
            session.add(Call(uniqueid=f"bench.{n}", caller=f"+62812000{n:05d}", state="queued", priority=5 + n % 4,
                             started_at=utcnow(), queued_at=utcnow()))

    ctx = multiprocessing.get_context("spawn")
    port_in, port_out = ctx.Pipe(duplex=False)
    server_stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(database_url, data_dir, port_out, server_stop))
    server.start()
    port = port_in.recv()

    alone_turns, crowded_turns = [], []
    for _turn in range(args.turns):
        alone_turns.append(_phase("API alone", port, token, args, database, 0, ctx))
        crowded_turns.append(_phase(f"API + {args.streams} streams", port, token, args, database, args.streams, ctx))
    alone, crowded = _merge(alone_turns), _merge(crowded_turns)
    server_stop.set()
    stop_seconds = port_in.recv()
    server.join(timeout=30)

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}, {args.rate:g} API requests/s over {args.clients} clients, "
          f"{args.turns} turns of {args.seconds:g} s a phase, {args.events_per_second:g} events/s")
    print("| phase | requests/s | p50 (ms) | p99 (ms) | max (ms) | p50 / p99 by turn (ms) | errors | "
          "streams open / refused / closed early (all turns) | events read by streams |")
    print("|---|---:|---:|---:|---:|---|---:|---|---:|")
    for phase in (alone, crowded):
        tally = phase["streams"]
        streams = f"{tally['open']} / {tally['refused']} / {tally['closed_early']}" if tally else "-"
        expected = f"{tally['events']:,} of {phase['expected_events']:,}" if tally else "-"
        turns = ", ".join(f"{p50:.1f} / {p99:.1f}" for p50, p99 in phase["turns"])
        print(f"| {phase['name']} | {phase['per_second']:.0f} | {phase['p50']:.1f} | {phase['p99']:.1f} | "
              f"{phase['max']:.1f} | {turns} | {phase['errors']} | {streams} | {expected} |")
    ratio = crowded["p99"] / alone["p99"]
    print(f"p99 with streams / alone: {ratio:.2f}x (target: at most 2x); serve's web service stopped in "
          f"{stop_seconds:.2f} s with the streams just closed")
    tally = crowded["streams"]
    failed = (ratio > 2.0 or crowded["errors"] or alone["errors"] or tally["open"] != args.streams * args.turns
              or tally["closed_early"])
    database.dispose()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
