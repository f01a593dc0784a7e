"""The chaos suite's tools: its own throw-away PostgreSQL to stop, kill and hang, and `serve` in a process.

Nothing here touches the suite's PostgreSQL: the server below lives in its own folder on its own
port (`scripts/postgres`), and only its own processes (read from its postmaster.pid and /proc)
are signalled.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from siaga112.db import Database
from siaga112.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
LISTENING = {
    "agi": re.compile(r"FastAGI on agi://[\d.]+:(?P<port>\d+)/"),
    "alarms": re.compile(r"SIA DC-09 receiver on [\d.]+:(?P<port>\d+)"),
    "web": re.compile(r"web console and API on http://[\d.]+:(?P<port>\d+)/"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChaosPostgres:
    """A PostgreSQL server of the chaos suite's own, and the faults done to it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="siaga112-chaos-pg-"))
        self.port = _free_port()
        self.env = {**os.environ, "SIAGA112_PG_DIR": str(self.folder), "SIAGA112_PG_PORT": str(self.port)}
        self.url = ""

    def start(self) -> str:
        main = self.postmaster()
        if main is not None and not _alive(main):
            # Killed: its lock file names a process that is gone, or a zombie no init reaped
            # (a container's PID 1 may not), which pg_ctl and postgres would take as running.
            (self.folder / "postmaster.pid").unlink(missing_ok=True)
            for leftover in (f"/tmp/.s.PGSQL.{self.port}.lock", f"/tmp/.s.PGSQL.{self.port}"):
                Path(leftover).unlink(missing_ok=True)
        result = subprocess.run([str(ROOT / "scripts" / "postgres"), "start"], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()[-500:]}")
        self.url = result.stdout.strip()
        return self.url

    def stop(self) -> None:
        """A clean, fast shutdown: what an operator's restart does."""
        subprocess.run([str(ROOT / "scripts" / "postgres"), "stop"], env=self.env, capture_output=True, timeout=60)

    def postmaster(self) -> int | None:
        try:
            return int((self.folder / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...), from /proc."""
        main = self.postmaster()
        if main is None or not _alive(main):
            return []
        found = [main]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == main:
                found.append(int(entry.name))
        return found

    def _signal(self, signum: int) -> list[int]:
        pids = self.processes()
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return pids

    def kill(self) -> None:
        """kill -9 of the whole server, as the OOM killer or a power cut would leave it."""
        pids = self._signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids):
            time.sleep(0.05)

    def hang(self) -> None:
        """SIGSTOP: the server still accepts connections (the kernel does) and answers nothing."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def destroy(self) -> None:
        self.resume()
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="session")
def chaos_postgres():
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.skip("PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin)")
    server = ChaosPostgres()
    try:
        server.start()
    except RuntimeError as error:
        server.destroy()
        pytest.skip(str(error))
    yield server
    server.destroy()


@pytest.fixture
def chaos_database(chaos_postgres):
    """A fresh, migrated database on the chaos server, dropped after the test."""
    if not chaos_postgres.processes():
        chaos_postgres.start()
    server = make_url(chaos_postgres.url)
    name = f"chaos_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)  # the server restarts
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(server.set(database=name).render_as_string(hide_password=False))
    upgrade(database)
    yield database
    database.dispose()
    chaos_postgres.resume()
    if not chaos_postgres.processes():
        chaos_postgres.start()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Serve:
    """`siaga112 serve --only ...` in its own process, as systemd runs it."""

    def __init__(self, folder: Path, database_url: str, services: str, **settings) -> None:
        self.folder = folder
        self.services = services.split(",")
        self.env = {**os.environ, "SIAGA112_DATA_DIR": str(folder), "SIAGA112_DATABASE_URL": database_url,
                    "SIAGA112_AGI_PORT": "0", "SIAGA112_SIA_PORT": "0", "SIAGA112_WEB_PORT": "0",
                    "SIAGA112_SECRET_KEY": "chaos", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT),
                    **{f"SIAGA112_{k.upper()}": str(v) for k, v in settings.items()}}
        self.process: subprocess.Popen | None = None
        self.ports: dict[str, int] = {}
        self.log: list[str] = []
        self._drain: threading.Thread | None = None

    def start(self, timeout: float = 60) -> "Serve":
        self.ports = {}
        self.process = subprocess.Popen([sys.executable, "-m", "center.cli", "serve", "--only", ",".join(self.services)],
                                        env=self.env, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        text=True)
        ready = threading.Event()

        def drain() -> None:
            for line in self.process.stderr:
                self.log.append(line)
                for name, pattern in LISTENING.items():
                    match = pattern.search(line)
                    if match:
                        self.ports[name] = int(match.group("port"))
                if "running:" in line:
                    ready.set()
            ready.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        ready.wait(timeout)
        if self.process.poll() is not None or not set(self.ports) >= set(self.services) & set(LISTENING):
            raise AssertionError("serve did not start:\n" + "".join(self.log[-30:]))
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)
        self._drain.join(10)
        self.process.stderr.close()

    def terminate(self) -> float:
        """SIGTERM, as systemd stops it; the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        finally:
            took = time.monotonic() - started
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        self._drain.join(10)
        self.process.stderr.close()
        return took

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def serve_process(tmp_path):
    """serve_process(database_url, "agi,web", **settings) -> a started Serve, killed after the test."""
    started: list[Serve] = []

    def make(database_url: str, services: str, **settings) -> Serve:
        process = Serve(tmp_path, database_url, services, **settings)
        started.append(process)
        return process.start()

    yield make
    for process in started:
        process.close()


