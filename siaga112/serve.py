"""Running services side by side: start in order, stop in reverse, SIGINT and SIGTERM stop them all.

Which services there are is the centre's business (`center.serve`); this module only runs them.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from typing import Callable, Protocol

from siaga112.runtime import Runtime

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[Runtime], Service]


def start_services(runtime: Runtime, factories: dict[str, ServiceFactory], names: list[str]) -> list[Service]:
    """Start the named services in order; if one fails to start, stop those already running."""
    started: list[Service] = []
    try:
        for name in names:
            service = factories[name](runtime)
            service.start()
            started.append(service)
    except BaseException:
        stop_services(started)
        raise
    return started


def stop_services(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except Exception:
            log.exception("service %s did not stop cleanly", service.name)


def run(runtime: Runtime, factories: dict[str, ServiceFactory], names: list[str],
        stop_event: threading.Event | None = None, *, stop_budget_s: float | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop_event`), then stop every service.

    With `stop_budget_s` (the `serve` command), a stop that takes longer (a thread held by a
    database that stopped answering) ends the process there: what matters is on disk already
    (committed, or fsynced in the call journal), and a supervisor that kills at 90 s would
    only lose time. Every service sees `runtime.stopping` first and ends its long work.
    """
    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop_event.set())
    services = start_services(runtime, factories, names)
    log.info("siaga112 running: %s", ", ".join(s.name for s in services))
    try:
        stop_event.wait()
    finally:
        log.info("stopping")
        runtime.stopping.set()
        if stop_budget_s is not None:
            _exit_if_late(stop_budget_s)
        stop_services(services)
        runtime.database.dispose()
        log.info("stopped")


def _exit_if_late(budget_s: float) -> None:
    def watch() -> None:
        if not done.wait(budget_s):
            log.error("stopping took longer than %g s (a service is held, e.g. by a database that stopped "
                      "answering); exiting now with what is stored", budget_s)
            logging.shutdown()
            os._exit(1)

    done = threading.Event()
    threading.Thread(target=watch, name="stop-watch", daemon=True).start()
    atexit.register(done.set)
