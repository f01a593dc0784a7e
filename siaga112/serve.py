"""Running services side by side: start in order, stop in reverse, SIGINT and SIGTERM stop them all.

Which services there are is the centre's business (`center.serve`); this module only runs them.
"""

from __future__ import annotations

import logging
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
        stop_event: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop_event`), then stop every service."""
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
        stop_services(services)
        runtime.database.dispose()
        log.info("stopped")
