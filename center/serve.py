"""`siaga112 serve`'s services: FastAGI, Asterisk's events (AMI), the web console and API, the alarm
receiver, the scheduler.

By default all of them run in one process on loopback; `--only` runs some of them, so that parts
can run on several machines over one PostgreSQL.
"""

from __future__ import annotations

import logging
import threading

from siaga112.runtime import Runtime
from siaga112.serve import Service, ServiceFactory

log = logging.getLogger(__name__)


class WebService:
    """The console and API on a threaded WSGI server."""

    name = "web"

    def __init__(self, runtime: Runtime) -> None:
        from werkzeug.serving import make_server

        from center.web import create_app

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


def _ami(runtime: Runtime) -> Service:
    from ivr.ami_listener import AmiListenerService
    from recordings.wiring import ivr_hooks

    return AmiListenerService(runtime, hooks_factory=ivr_hooks)


def _alarms(runtime: Runtime) -> Service:
    from routing.alarms.receiver import AlarmReceiverService

    return AlarmReceiverService(runtime)


def _scheduler(runtime: Runtime) -> Service:
    from center.scheduler import scheduler_service

    return scheduler_service(runtime)


SERVICE_FACTORIES: dict[str, ServiceFactory] = {
    "agi": _agi,
    "ami": _ami,
    "web": WebService,
    "alarms": _alarms,
    "scheduler": _scheduler,
}
SERVICE_NAMES = tuple(SERVICE_FACTORIES)
