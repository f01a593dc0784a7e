"""DC-09 receiver throughput: alarms stored before their ACK, against pysiaalarm's bare receiver.

Panels are simulated in a separate process (so their CPU does not slow the receiver), each
connection sending one panic frame, waiting for its reply, then sending the next, as a panel
does. For 1, 10 and 50 connections this measures ACKs per second and the time from sending a
frame to reading its ACK, for:

  bare      pysiaalarm 3.2.2's own asyncio TCP server with a no-op callback (ACKs before anything),
            as shipped, in a process of its own (bench/bare_sia.py)
  inline    this receiver storing each frame in its own transaction before its ACK (no grouping)
  grouped   this receiver with group commit (the shipped configuration)

on SQLite (synchronous=FULL, WAL) and PostgreSQL (fsync on). After each run every ACKed frame
is looked up in the database: `stored` must equal `acked`.

    .venv/bin/python bench/alarms.py [--seconds 4] [--connections 1,10,50] [--write]

PostgreSQL comes from SIAGA112_TEST_POSTGRES_URL, else `scripts/postgres start`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from routing.alarms.dc09 import build_frame  # noqa: E402

SITE = {"name": "Bank bench", "lat": -7.9797, "lon": 112.6304}


# -- the panels (runs in a child process) ---------------------------------------------------
def _panels(port: int, connections: int, seconds: float, results) -> None:
    """Each connection: send a frame, wait for the reply, repeat until time is up."""

    per_connection = int(seconds * 15_000 / connections) + 200  # more than any receiver here can answer
    frames = [[build_frame(f"{0xB00 + index:X}", f"Nri1/PA{n}", sequence=n % 9999 + 1)
               for n in range(1, per_connection + 1)] for index in range(connections)]

    async def one(index: int, stop_at: float):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latencies, acked, refused = [], 0, 0
        for frame in frames[index]:
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            writer.write(frame)
            await writer.drain()
            reply = await reader.readuntil(b"\r")
            latencies.append(time.perf_counter() - started)
            if b'ACK"' in reply:
                acked += 1
            else:
                refused += 1
        writer.close()
        await writer.wait_closed()
        return latencies, acked, refused

    async def main():
        stop_at = time.monotonic() + seconds
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(i, stop_at) for i in range(connections)))
        elapsed = time.perf_counter() - started
        latencies = [x for o in outcomes for x in o[0]]
        results.put((elapsed, latencies, sum(o[1] for o in outcomes), sum(o[2] for o in outcomes)))

    asyncio.run(main())


def _cpu_seconds(pid: int | None) -> float:
    """CPU of the receiver so far: this process's, or another one's from /proc."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(port: int, connections: int, seconds: float, receiver_pid: int | None = None) -> dict:
    """Run the panels against `port`; the receiver's CPU is this process's (or `receiver_pid`'s)
    CPU while they run."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_panels, args=(port, connections, seconds, results))
    process.start()
    cpu_before = _cpu_seconds(receiver_pid)
    elapsed, latencies, acked, refused = results.get(timeout=seconds + 120)
    cpu = _cpu_seconds(receiver_pid) - cpu_before
    process.join(timeout=30)
    latencies.sort()
    return {
        "acked": acked, "refused": refused, "per_s": acked / elapsed, "cpu_us": 1e6 * cpu / max(1, acked),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


# -- receivers -------------------------------------------------------------------------------
def bare(connections: int, seconds: float) -> dict:
    """pysiaalarm's own asyncio server, no-op callback, as shipped (`bench/bare_sia.py`, a process
    of its own): the ceiling, ACKing before anything is kept."""
    accounts = [f"{0xB00 + i:X}" for i in range(connections)]
    server = subprocess.Popen([sys.executable, "-m", "bench.bare_sia", *accounts], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        return drive(port, connections, seconds, receiver_pid=server.pid)
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def ours(url: str, connections: int, seconds: float, *, grouped: bool) -> dict:
    from routing.alarms.receiver import AlarmReceiverService
    from routing.alarms.sites import register_site
    from siaga112.db import Database
    from siaga112.migrate import upgrade
    from siaga112.models import Alarm
    from siaga112.runtime import Runtime
    from siaga112.settings import load_settings

    data_dir = tempfile.mkdtemp(prefix="siaga112-bench-")
    settings = load_settings(overrides={"data_dir": data_dir, "database_url": url, "sia_port": 0,
                                        "secret_key": "bench"}, environ={})
    database = Database(url)
    upgrade(database)
    with database.session() as session:
        for i in range(connections):
            register_site(session, account=f"{0xB00 + i:X}", **SITE)
    runtime = Runtime(settings, database)
    service = AlarmReceiverService(runtime, max_batch=500 if grouped else 1, group_commit_ms=None if grouped else 0)
    service.start()
    try:
        result = drive(service.port, connections, seconds)
    finally:
        service.stop()
    with database.session() as session:
        result["stored"] = session.scalar(select(func.count()).select_from(Alarm))
    result["batches"] = service.committer.batches
    database.dispose()
    return result


def postgres_server() -> str:
    url = os.environ.get("SIAGA112_TEST_POSTGRES_URL")
    if url:
        return url
    return subprocess.run([str(ROOT / "scripts" / "postgres"), "start"], check=True, capture_output=True,
                          text=True).stdout.strip()


class ScratchPostgres:
    """A fresh database on the server for one run, dropped after."""

    def __init__(self, server: str) -> None:
        self.server = make_url(server)
        self.name = f"siaga112_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


# -- report ----------------------------------------------------------------------------------
def run_one(name: str, database: str, n: int, seconds: float, server: str | None) -> dict:
    if name == "bare":
        return bare(n, seconds)
    grouped = name == "grouped"
    if database == "SQLite FULL":
        with tempfile.TemporaryDirectory() as tmp:
            return ours(f"sqlite:///{tmp}/alarms.db", n, seconds, grouped=grouped)
    with ScratchPostgres(server) as url:
        return ours(url, n, seconds, grouped=grouped)


LABELS = {"bare": "bare pysiaalarm (ACK first, nothing stored)", "inline": "inline: store each frame, then ACK",
          "grouped": "group commit, then ACK (shipped)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Length of one round of one receiver.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds, interleaved; medians are reported.")
    parser.add_argument("--connections", default="1,10,50")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--write", action="store_true", help="Write the table into bench/RESULTS.md (Alarms).")
    args = parser.parse_args()
    counts = [int(c) for c in args.connections.split(",")]
    server = None if args.no_postgres else postgres_server()
    configs = [("bare", "-"), ("inline", "SQLite FULL"), ("grouped", "SQLite FULL")]
    if server:
        configs += [("inline", "PostgreSQL"), ("grouped", "PostgreSQL")]

    rows = []
    for n in counts:
        runs: dict = {config: [] for config in configs}
        for _ in range(args.rounds):  # interleaved, so a busy moment on the machine hits every receiver
            for config in configs:
                runs[config].append(run_one(config[0], config[1], n, args.seconds, server))
        base = statistics.median(r["per_s"] for r in runs[("bare", "-")])
        for (name, db), results in runs.items():
            rows.append((LABELS[name], db, n, {
                "per_s": statistics.median(r["per_s"] for r in results),
                "p50_ms": statistics.median(r["p50_ms"] for r in results),
                "p99_ms": statistics.median(r["p99_ms"] for r in results),
                "cpu_us": statistics.median(r["cpu_us"] for r in results),
                "acked": sum(r["acked"] for r in results),
                "stored": sum(r["stored"] for r in results) if name != "bare" else "-",
                "batches": sum(r["batches"] for r in results) if name != "bare" else "-",
            }, base))

    lines = ["| receiver | database | connections | ACKs/s | vs bare | p50 ACK ms | p99 ACK ms | receiver CPU us/ACK "
             "| acked | stored | commits |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, db, n, r, base in rows:
        lines.append(f"| {name} | {db} | {n} | {r['per_s']:,.0f} | {r['per_s'] / base:.2f} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['cpu_us']:.0f} | {r['acked']} | {r['stored']} | {r['batches']} |")
    table = "\n".join(lines)
    print(table)
    lost = [(name, db, n) for name, db, n, r, _ in rows if r["stored"] != "-" and r["stored"] < r["acked"]]
    print("every ACKed alarm stored:", "yes" if not lost else f"NO {lost}")
    if args.write:
        write_results(table, args, lost)


def write_results(table: str, args, lost) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    existing = path.read_text() if path.exists() else "# Benchmark results\n"
    command = (f".venv/bin/python bench/alarms.py --seconds {args.seconds:g} --rounds {args.rounds} "
               f"--connections {args.connections} --write")
    section = (
        "## Alarms\n\n"
        "DC-09 panic frames from simulated panels (a separate process; one frame in flight per connection, "
        f"as panels do). Each figure is the median of {args.rounds} interleaved rounds of {args.seconds:g} s; "
        "acked, stored and commits are totals over the rounds. "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs. "
        "`vs bare` is the ratio to pysiaalarm's own receiver in the same run. `stored` counts the alarms "
        "in the database after the run: every ACKed frame is there "
        f"({'none lost' if not lost else 'LOSS: ' + str(lost)}). Zero loss when the process is killed "
        "mid-stream is checked by `tests/routing/test_dc09_kill.py` (SIGKILL of `siaga112 serve --only alarms`).\n\n"
        f"Command: `{command}`\n\n{table}\n"
    )
    pattern = re.compile(r"^## Alarms\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    updated = pattern.sub(section + "\n", existing) if pattern.search(existing) else (
        existing.rstrip("\n") + "\n\n" + section)
    path.write_text(updated)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
