"""`siaga112 serve`'s services: FastAGI, Asterisk's events (AMI), the web console and API, the alarm
receiver, the scheduler.

By default all of them run in one process on loopback; `--only` runs some of them, so that parts
can run on several machines over one PostgreSQL.
"""

from __future__ import annotations

import logging

from siaga112.runtime import Runtime
from siaga112.serve import Service, ServiceFactory

log = logging.getLogger(__name__)


class WebService:
    """The console and API on waitress (`siaga112.web_server`): request timeouts, console event
    streams held by two threads however many are open (`siaga112.event_streams`), and a stop
    within seconds."""

    name = "web"

    def __init__(self, runtime: Runtime) -> None:
        from center.web import create_app
        from siaga112.web import MAX_BODY_BYTES, server_error_body
        from siaga112.web_server import WebServer

        settings = runtime.settings
        self.runtime = runtime
        self.app = create_app(runtime)
        self.server = WebServer(self.app, settings.bind_host, settings.web_port,
                                threads=settings.web_threads,
                                request_timeout=settings.web_request_timeout_seconds,
                                idle_timeout=settings.web_idle_timeout_seconds, max_body_bytes=MAX_BODY_BYTES,
                                trusted_proxy=settings.web_trusted_proxy, error_body=server_error_body(self.app))
        self.port = self.server.port

    def start(self) -> None:
        from routing.alarms.journal import start_replayer

        start_replayer(self.runtime)  # SOS and button events kept while the database was away
        self.server.start()
        log.info("web console and API on http://%s:%s/", self.server.host, self.port)

    def stop(self) -> None:
        from agent_console.events_api import close_event_streams
        from siaga112 import events

        # Open event streams end first (their last bytes sent), then the server stops.
        close_event_streams(self.app, timeout=2)
        self.server.stop(timeout=3)
        events.subscriber(self.runtime.database).stop()
        from routing.alarms.journal import stop_replayer

        stop_replayer(self.runtime)


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
