"""What one event costs the event-stream writer with N streams open: its pass over every socket.

The console and API run as in the tests (waitress, `siaga112.web_server`, a fresh SQLite
database); N raw event streams are opened and drained by a reader thread of this process; events
are published four times a second, and every pass of the writer (`siaga112.event_streams`) that
hands an event to the open streams is timed, in wall time and in the writer thread's own CPU.
A request of the API that arrives during a pass waits for the interpreter lock that long at most.

    .venv/bin/python -m bench.stream_writer_pass [--streams 300] [--events 40]
"""

from __future__ import annotations

import argparse
import logging
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from agent_console.events_api import streams_of
    from center.web import create_app
    from siaga112 import auth, event_streams, events
    from siaga112.db import Database
    from siaga112.migrate import upgrade
    from siaga112.runtime import Runtime
    from siaga112.settings import load_settings
    from siaga112.web_server import WebServer

    folder = tempfile.mkdtemp(prefix="siaga112-bench-pass-")
    database = Database(f"sqlite:///{folder}/bench.db")
    upgrade(database)
    settings = load_settings(overrides={"data_dir": folder, "database_url": database.url, "recordings_dir": folder,
                                        "secret_key": "bench", "web_port": 0}, environ={})
    with database.session() as session:
        token = auth.create_token(session, "bench", ["calls:read"])

    walls: list[float] = []
    cpus: list[float] = []
    command = event_streams.EventStreams._command

    def timed(self, selector, streams, order):
        if order[0] != "send":
            return command(self, selector, streams, order)
        wall, cpu = time.perf_counter(), time.thread_time()
        command(self, selector, streams, order)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.thread_time() - cpu) * 1000)

    event_streams.EventStreams._command = timed
    app = create_app(Runtime(settings=settings, database=database))
    server = WebServer(app, "127.0.0.1", 0, threads=4)
    server.start()
    selector = selectors.DefaultSelector()
    sockets = []
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            for key, _mask in selector.select(0.1):
                try:
                    key.fileobj.recv(65536)
                except BlockingIOError:
                    pass

    try:
        for _ in range(args.streams):
            sock = socket.create_connection(("127.0.0.1", int(server.port)))
            sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
                         .encode())
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            sockets.append(sock)
        reader = threading.Thread(target=drain)
        reader.start()
        hub = streams_of(app)
        while hub.open_streams < args.streams:
            time.sleep(0.05)
        time.sleep(1.0)
        for n in range(args.events):
            with database.session() as session:
                events.publish(session, "call.updated", {"id": 1, "n": n})
            time.sleep(0.25)
        time.sleep(1.0)
        stop.set()
        reader.join()
    finally:
        for sock in sockets:
            sock.close()
        from agent_console.events_api import close_event_streams

        close_event_streams(app)
        server.stop()
        events.subscriber(database).stop()
        database.dispose()
    print(f"{len(walls)} passes over {args.streams} streams, one event each: wall p50 {statistics.median(walls):.2f} ms, "
          f"max {max(walls):.2f} ms; the writer's CPU p50 {statistics.median(cpus):.2f} ms, max {max(cpus):.2f} ms")


if __name__ == "__main__":
    main()
