"""`siaga112 serve`: run the FastAGI server, web console, alarm receiver and scheduler.

By default all four run in one process on loopback; `--only` runs some of them, so that parts
can run on several machines over one PostgreSQL. SIGINT and SIGTERM stop every part cleanly.
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


class WebService:
    """The console and API on a threaded WSGI server."""

    name = "web"

    def __init__(self, runtime: Runtime) -> None:
        from werkzeug.serving import make_server

        from siaga112.web import create_app

        settings = runtime.settings
        self.server = make_server(settings.bind_host, settings.web_port, create_app(runtime), threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)

    def start(self) -> None:
        self.thread.start()
        log.info("web console and API on http://%s:%s/", self.server.host, self.port)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def _agi(runtime: Runtime) -> Service:
    from ivr.server import AgiService
    from recordings.wiring import ivr_hooks

    return AgiService(runtime, hooks_factory=ivr_hooks)


def _alarms(runtime: Runtime) -> Service:
    from routing.alarms.receiver import AlarmReceiverService

    return AlarmReceiverService(runtime)


def _scheduler(runtime: Runtime) -> Service:
    from siaga112.scheduler import SchedulerService

    return SchedulerService(runtime)


SERVICE_FACTORIES: dict[str, Callable[[Runtime], Service]] = {
    "agi": _agi,
    "web": WebService,
    "alarms": _alarms,
    "scheduler": _scheduler,
}
SERVICE_NAMES = tuple(SERVICE_FACTORIES)


def start_services(runtime: Runtime, names: list[str]) -> list[Service]:
    """Start the named services in order; if one fails to start, stop those already running."""
    started: list[Service] = []
    try:
        for name in names:
            service = SERVICE_FACTORIES[name](runtime)
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


def run(runtime: Runtime, names: list[str], stop_event: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop_event`), then stop every service."""
    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop_event.set())
    services = start_services(runtime, names)
    log.info("siaga112 running: %s", ", ".join(s.name for s in services))
    try:
        stop_event.wait()
    finally:
        log.info("stopping")
        stop_services(services)
        runtime.database.dispose()
        log.info("stopped")
