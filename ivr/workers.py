"""More FastAGI processes on the same port, so a busy 112 line can use every core.

One Python process runs one event loop on one core at a time. With `agi_workers = N`, the
`agi` service starts N - 1 worker processes beside its own server; all of them listen on the
same port with SO_REUSEPORT and the kernel spreads Asterisk's connections over them. Each
worker is a whole FastAGI service of its own: its own database writer, its own hooks (built
by the same factory as the main one, so live transcription and the work after a call happen
in whichever process took the call), its own watchdog.

A worker stops when the main process tells it to, when the main process is gone (its end of
the pipe closes), or on SIGTERM; it stores its calls still in the IVR as queued, as the main
service does. SIGINT is left to the main process, which stops the workers itself.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import signal
import threading
from typing import Callable

from siaga112.runtime import Runtime
from siaga112.settings import Settings

log = logging.getLogger(__name__)

START_SECONDS = 60.0  # a worker loads the speech model before it listens
STOP_SECONDS = 45.0


class AgiWorkers:
    """The extra worker processes of one FastAGI service."""

    def __init__(self, settings: Settings, hooks_factory: Callable[[Runtime], object] | None, count: int) -> None:
        self.settings = settings
        self.hooks_factory = hooks_factory
        self.count = count
        self._workers: list[tuple[multiprocessing.Process, object]] = []

    def start(self, port: int) -> None:
        """Start the workers on `port` (the main server's, already bound); return once all listen."""
        context = multiprocessing.get_context("spawn")
        settings = dataclasses.replace(self.settings, agi_port=port, agi_workers=1)
        level = logging.getLogger().getEffectiveLevel()
        try:
            for number in range(1, self.count):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker_main, name=f"siaga112-agi-{number}",
                                          args=(settings, self.hooks_factory, theirs, level), daemon=True)
                process.start()
                theirs.close()
                self._workers.append((process, ours))
                if not ours.poll(START_SECONDS):
                    raise RuntimeError(f"FastAGI worker {number} did not start within {START_SECONDS:g} s")
                status, detail = ours.recv()
                if status != "ready":
                    raise RuntimeError(f"FastAGI worker {number} could not start: {detail}")
        except BaseException:
            self.stop()
            raise
        log.info("FastAGI: %d worker processes beside the main one on port %s", len(self._workers), port)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _pipe in self._workers if process.pid is not None]

    def stop(self) -> None:
        for _process, pipe in self._workers:
            try:
                pipe.send("stop")
            except (OSError, ValueError):
                pass
        for process, pipe in self._workers:
            process.join(STOP_SECONDS)
            if process.is_alive():
                log.warning("FastAGI worker %s did not stop in time; terminating it", process.name)
                process.terminate()
                process.join(5)
            pipe.close()
        self._workers.clear()


def _worker_main(settings: Settings, hooks_factory, pipe, log_level: int) -> None:
    """One worker process: a FastAGI service on the shared port until told to stop."""
    from ivr.server import AgiService
    from siaga112.db import Database

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    runtime = Runtime(settings=settings, database=Database(settings.database_url))
    try:
        service = AgiService(runtime, hooks_factory=hooks_factory, reuse_port=True)
        service.start()
    except BaseException as error:
        pipe.send(("failed", f"{error.__class__.__name__}: {error}"))
        return
    pipe.send(("ready", None))
    try:
        while not stopping.is_set():
            if pipe.poll(0.5):
                pipe.recv()  # "stop"
                break
    except (EOFError, OSError):  # the main process is gone
        pass
    finally:
        service.stop()
        runtime.database.dispose()
