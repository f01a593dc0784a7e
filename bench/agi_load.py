"""FastAGI load: many 112 calls at once through the real IVR server, beside a floor and a baseline.

Three servers, each in its own process so its CPU can be measured alone, driven by the same
asyncio client that answers like Asterisk (no key pressed, the statement ends on silence):

- `ivr`   Siaga112's FastAGI server, real steps, SQLite database writes (group commit).
- `ivr-2` the same with `agi_workers = 2`: two processes on the port (SO_REUSEPORT), their CPU summed.
- `floor` a bare asyncio responder sending the same command script, parsing nothing, storing nothing.
- `pyst2` pyst2's AGI on socketserver.ThreadingTCPServer with its default listen backlog of 5,
          as people deploy it (its SIGHUP handler skipped: it cannot be installed off the main thread).
- `pyst2-4096` the same with a listen backlog of 4096, to show the threads' cost apart from the backlog.

Each round sends N calls at once (all connecting together, as when a disaster lights up the
line) and waits until the last has ended; figures are over all rounds. The client gives up
on a connection after 2 s, as Asterisk's FastAGI connect does; a session
that never reaches SET VARIABLE QUEUE_PRIO counts as failed (that caller heard silence).

Time to the first command is given twice: from the start of the connect, and from the moment
the client sent its environment (connected). The part before that is the client's and the
kernel's alone (the kernel completes the handshake into the listen backlog; no server code
runs), so with 1,000 connects issued at once it mostly measures this one client's loop; the
time after the environment is what the server adds.

    .venv/bin/python -m bench.agi_load --calls 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socketserver
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

CONNECT_TIMEOUT = 2.0  # Asterisk's FastAGI connect timeout
SESSION_TIMEOUT = 60.0

ENV_TEMPLATE = (
    "agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1:4573/ivr\n"
    "agi_channel: Local/112@emergency-{n:08x};2\nagi_language: en\nagi_type: Local\n"
    "agi_uniqueid: 1795346261.{n}\nagi_version: 22.10.1\nagi_callerid: +62812{n:08d}\n"
    "agi_calleridname: Bench Caller\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\nagi_context: emergency\n"
    "agi_extension: 112\nagi_priority: 5\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 139835132839616\nagi_arg_1: \n\n"
)

# What the IVR sends a caller who presses nothing and whose statement ends on silence; the
# floor and pyst2 servers send the same lines.
SCRIPT = [
    "ANSWER",
    "GET VARIABLE PJSIP_HEADER(read,Geolocation)",
    "GET VARIABLE PJSIP_HEADER(read,P-Access-Network-Info)",
    "GET VARIABLE SIAGA_PIDF_LO",
    "SET VARIABLE SIAGA_CALL_ID 1",
    "EXEC MixMonitor /tmp/siaga112-bench/call-1-full.wav",
    'STREAM FILE siaga112/id/welcome "1234"',
    'STREAM FILE siaga112/id/choose_service "1234"',
    "WAIT FOR DIGIT 4000",
    'STREAM FILE siaga112/id/record_statement ""',
    'RECORD FILE /tmp/siaga112-bench/call-1-statement wav "#" 20000 0 s=2',
    'STREAM FILE siaga112/id/connecting ""',
    "SET VARIABLE QUEUE_PRIO 5",
]


def asterisk_reply(command: str) -> bytes:
    """What Asterisk answers (AGI-NOTES), for a caller who presses nothing."""
    if command.startswith("STREAM FILE"):
        return b"200 result=0 endpos=3404\n"
    if command.startswith("RECORD FILE"):
        return b"200 result=8841 (timeout) endpos=68972\n"
    if command.startswith(("GET VARIABLE", "WAIT FOR DIGIT", "ANSWER", "EXEC")):
        return b"200 result=0\n"
    return b"200 result=1\n"


# --- the client ---------------------------------------------------------------------------

@dataclass
class Figures:
    sessions: int = 0
    failures: int = 0
    wall_s: float = 0.0
    first_command_ms: list[float] = field(default_factory=list)  # from the start of the connect
    after_env_ms: list[float] = field(default_factory=list)  # from the environment sent
    between_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class CallerProtocol(asyncio.Protocol):
    """One simulated Asterisk channel: sends the environment, answers each command like Asterisk.

    A bare Protocol rather than streams, so the client costs less CPU than the servers it drives.
    """

    def __init__(self, n: int, started: float, figures: Figures, done: asyncio.Future) -> None:
        self.n = n
        self.started = started
        self.figures = figures
        self.done = done
        self.buffer = b""
        self.sent_at = 0.0
        self.first = True
        self.queued = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connected_at = time.perf_counter()
        transport.write(ENV_TEMPLATE.format(n=self.n).encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            now = time.perf_counter()
            if self.first:
                self.figures.first_command_ms.append((now - self.started) * 1000)
                self.figures.after_env_ms.append((now - self.connected_at) * 1000)
                self.first = False
            else:
                self.figures.between_ms.append((now - self.sent_at) * 1000)
            command = line.decode()
            if command.startswith("SET VARIABLE QUEUE_PRIO"):
                self.queued = True
            self.transport.write(asterisk_reply(command))
            self.sent_at = time.perf_counter()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(self.queued)


async def one_call(n: int, port: int, figures: Figures) -> None:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    done = loop.create_future()
    try:
        transport, _protocol = await asyncio.wait_for(
            loop.create_connection(lambda: CallerProtocol(n, started, figures, done), "127.0.0.1", port),
            CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as error:
        figures.failures += 1
        figures.errors[error.__class__.__name__] = figures.errors.get(error.__class__.__name__, 0) + 1
        return
    try:
        queued = await asyncio.wait_for(done, SESSION_TIMEOUT)
    except asyncio.TimeoutError:
        queued = False
        figures.errors["session timeout"] = figures.errors.get("session timeout", 0) + 1
    transport.close()
    if queued:
        figures.sessions += 1
    else:
        figures.failures += 1


async def drive(port: int, calls: int, rounds: int = 1, first: int = 0) -> Figures:
    """`rounds` times, `calls` calls at once (each round starts when the last one has ended)."""
    figures = Figures()
    for round_number in range(rounds):
        base = first + round_number * calls
        started = time.perf_counter()
        await asyncio.gather(*(one_call(base + n, port, figures) for n in range(calls)))
        figures.wall_s += time.perf_counter() - started
    return figures


# --- the servers (each runs in its own process: `--serve KIND`) ---------------------------

def serve_ivr(workers: int = 1) -> None:
    from ivr.server import AgiService
    from siaga112.db import Database
    from siaga112.migrate import upgrade
    from siaga112.runtime import Runtime
    from siaga112.settings import load_settings

    data = tempfile.mkdtemp(prefix="siaga112-bench-")
    settings = load_settings(overrides={"data_dir": data, "agi_port": 0, "agi_workers": workers}, environ={})
    database = Database(settings.database_url)
    upgrade(database)
    os.makedirs(settings.recordings_dir, exist_ok=True)
    service = AgiService(Runtime(settings=settings, database=database))
    service.start()
    _ready(service.port, service.workers.pids if service.workers else [])
    sys.stdin.read()
    service.stop()
    from sqlalchemy import text

    with database.engine.connect() as connection:
        queued = connection.execute(text("SELECT count(*) FROM calls WHERE state = 'queued'")).scalar()
    print(f"stored {queued} queued calls", file=sys.stderr)


def serve_floor() -> None:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        for command in SCRIPT:
            writer.write(command.encode() + b"\n")
            if not await reader.readline():
                break
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(session, "127.0.0.1", 0, backlog=4096)
        _ready(server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


def serve_pyst2(backlog: int = 5) -> None:
    from asterisk.agi import AGI

    class ThreadFriendlyAGI(AGI):
        """pyst2's AGI minus the SIGHUP handler, which cannot be installed off the main thread."""

        def __init__(self, stdin, stdout, stderr):
            self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
            self._got_sighup = False
            self.env = {}
            self._get_agi_env()

    devnull = open(os.devnull, "w")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            rfile = self.rfile
            out = self.wfile

            class Text:
                def readline(self):
                    return rfile.readline().decode()

            class Out:
                def write(self, text):
                    out.write(text.encode())

                def flush(self):
                    out.flush()

            agi = ThreadFriendlyAGI(Text(), Out(), devnull)
            try:
                agi.answer()
                for name in ("PJSIP_HEADER(read,Geolocation)", "PJSIP_HEADER(read,P-Access-Network-Info)",
                             "SIAGA_PIDF_LO"):
                    agi.execute("GET VARIABLE", name)
                agi.execute("SET VARIABLE", "SIAGA_CALL_ID", "1")
                agi.execute("EXEC", "MixMonitor", "/tmp/siaga112-bench/call-1-full.wav")
                agi.execute("STREAM FILE", "siaga112/id/welcome", '"1234"')
                agi.execute("STREAM FILE", "siaga112/id/choose_service", '"1234"')
                agi.execute("WAIT FOR DIGIT", "4000")
                agi.execute("STREAM FILE", "siaga112/id/record_statement", '""')
                agi.execute("RECORD FILE", "/tmp/siaga112-bench/call-1-statement", "wav", '"#"', "20000", "0", "s=2")
                agi.execute("STREAM FILE", "siaga112/id/connecting", '""')
                agi.execute("SET VARIABLE", "QUEUE_PRIO", "5")
            except Exception:
                pass

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        request_queue_size = backlog  # socketserver's default is 5

    server = Server(("127.0.0.1", 0), Handler)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ready(server.server_address[1])
    sys.stdin.read()
    server.shutdown()


def _ready(port: int, worker_pids: list[int] | None = None) -> None:
    """Tell the driver the port, and the pids of any worker processes (their CPU counts too)."""
    print(port, *(worker_pids or []), flush=True)


SERVERS = {"ivr": serve_ivr, "ivr-2": lambda: serve_ivr(workers=2), "floor": serve_floor, "pyst2": serve_pyst2,
           "pyst2-4096": lambda: serve_pyst2(backlog=4096)}


# --- measuring ----------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads so far, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(kind: str, calls: int, rounds: int) -> Figures:
    process = subprocess.Popen([sys.executable, "-m", "bench.agi_load", "--serve", kind], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port, *workers = (int(word) for word in process.stdout.readline().split())
        pids = [process.pid, *workers]
        asyncio.run(drive(port, min(50, calls), first=10_000_000))  # warm-up, not counted
        before = sum(cpu_seconds(pid) for pid in pids)
        figures = asyncio.run(drive(port, calls, rounds))
        figures.cpu_s = sum(cpu_seconds(pid) for pid in pids) - before
    finally:
        process.stdin.close()
        process.wait(timeout=120)
    return figures


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(results: dict[str, Figures]) -> str:
    lines = [f"{'server':<10} {'sessions/s':>10} {'ok':>6} {'failed':>6} {'1st cmd p50':>11} {'p99':>8} "
             f"{'after env p50':>13} {'p99':>8} {'between p50':>11} {'p99':>7} {'CPU/call':>9}"]
    for kind, f in results.items():
        rate = f.sessions / f.wall_s if f.wall_s else 0.0
        cpu = f.cpu_s / max(1, f.sessions + f.failures) * 1000
        lines.append(f"{kind:<10} {rate:>10.0f} {f.sessions:>6} {f.failures:>6} {pct(f.first_command_ms, 50):>9.1f}ms "
                     f"{pct(f.first_command_ms, 99):>6.1f}ms {pct(f.after_env_ms, 50):>11.1f}ms {pct(f.after_env_ms, 99):>6.1f}ms "
                     f"{pct(f.between_ms, 50):>9.2f}ms {pct(f.between_ms, 99):>5.2f}ms "
                     f"{cpu:>7.2f}ms")
    for kind in [k for k in results if k.startswith("ivr")]:
        ivr = results[kind]
        ivr_rate = ivr.sessions / ivr.wall_s
        ivr_cpu = ivr.cpu_s / max(1, ivr.sessions + ivr.failures)
        for baseline in ("pyst2", "pyst2-4096"):
            if baseline in results and results[baseline].sessions:
                p = results[baseline]
                lines.append(f"{kind} / {baseline} sessions/s: {ivr_rate / (p.sessions / p.wall_s):.2f}x (goal >= 1.5x)")
        if "floor" in results and results["floor"].sessions:
            fl = results["floor"]
            lines.append(f"{kind} / floor sessions/s: {ivr_rate / (fl.sessions / fl.wall_s):.2f}x")
            floor_cpu = fl.cpu_s / max(1, fl.sessions + fl.failures)
            lines.append(f"{kind} / floor CPU per call: {ivr_cpu / floor_cpu:.2f}x (goal <= 2x)")
        lines.append(f"{kind} failures: {ivr.failures} (goal 0); first command p99 after the environment: "
                     f"{pct(ivr.after_env_ms, 99):.1f} ms (goal < 100 ms); from the start of the connect: "
                     f"{pct(ivr.first_command_ms, 99):.1f} ms")
    for kind, f in results.items():
        if f.errors:
            lines.append(f"{kind} client-side errors: {f.errors}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls at once")
    parser.add_argument("--rounds", type=int, default=3, help="how many times (one after the other)")
    parser.add_argument("--servers", default="ivr,ivr-2,floor,pyst2,pyst2-4096")
    parser.add_argument("--serve", choices=sorted(SERVERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        SERVERS[args.serve]()
        return
    results = {}
    for kind in [k.strip() for k in args.servers.split(",") if k.strip()]:
        results[kind] = run_one(kind, args.calls, args.rounds)
    print(f"{args.calls} calls at once, {args.rounds} rounds per server, {os.cpu_count()} CPUs")
    print(report(results))


if __name__ == "__main__":
    main()
