"""The production web server for `serve`: waitress, with read timeouts and a quick, clean stop.

Why waitress: it reads every request (headers and body) on one asynchronous loop and hands a
worker thread only a request that has fully arrived, and it writes responses out of a buffer on
that same loop. So a client that sends or reads slowly holds a socket, never a thread; and one
that takes longer than `request_timeout` to send its request is disconnected. Werkzeug's
development server, which this replaces, gave each connection a thread for as long as the client
liked.

Console event streams (SSE) each hold a worker thread for their lifetime, so the server runs
`threads + event_streams` workers and the app refuses streams beyond `event_streams` (503,
and EventSource retries): the API always keeps `threads` workers of its own.

Some requests never reach the app: a body declared over the limit (413), malformed framing
headers (400), headers too large (431). Waitress answers those itself, in plain text; the
`error_body` hook lets the app write that answer as it writes its own errors (JSON under
`/api/`, in the client's language), and the connection is closed after it all the same.
"""

from __future__ import annotations

import logging
import threading
import time

from typing import Callable

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress import wasyncore

log = logging.getLogger(__name__)

LOOP_TICK_SECONDS = 0.2  # how often the loop looks at the stop flag (and the longest a stop waits for it)


# (status, path, request headers) -> (content type, body), or None for waitress's own answer.
ErrorBody = Callable[[int, str, dict], "tuple[str, bytes] | None"]


class _ErrorTask(ErrorTask):
    """Waitress's answer to a request it refused before the app saw it, with the app's body."""

    def execute(self):
        error = self.request.error
        made = None
        error_body = getattr(self.channel.server, "error_body", None)
        if error_body is not None:
            try:
                made = error_body(error.code, getattr(self.request, "path", "") or "", dict(self.request.headers))
            except Exception:  # noqa: BLE001 - the refusal itself must always go out
                log.exception("the app's body for a %s refused by the server could not be made", error.code)
        if made is None:
            super().execute()
            return
        content_type, body = made
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", content_type))
        self.set_close_on_finish()  # its unread body must not be taken for the next request
        self.content_length = len(body)
        self.write(body)


class _TimedChannel(HTTPChannel):
    """A connection that remembers when its current, still incomplete, request began to arrive."""

    error_task_class = _ErrorTask
    request_began: float | None = None

    def received(self, data):
        if self.request is None and data and not self.requests:
            self.request_began = time.monotonic()
        result = super().received(data)
        if self.request is None:
            self.request_began = None  # complete (or nothing pending): the clock stops
        return result


class _Server(TcpWSGIServer):
    channel_class = _TimedChannel
    request_timeout = 30.0
    error_body: ErrorBody | None = None

    def maintenance(self, now):
        """Waitress closes idle connections; also close those still sending one request too slowly."""
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                log.info("closing a connection that took over %.0f s to send its request", self.request_timeout)
                channel.will_close = True


class WebServer:
    """A WSGI app served on host:port by waitress, in a thread of its own, stoppable within seconds."""

    def __init__(self, app, host: str, port: int, *, threads: int = 16, event_streams: int = 400,
                 request_timeout: float = 30.0, idle_timeout: int = 120, max_body_bytes: int = 1024 * 1024,
                 trusted_proxy: str = "", error_body: ErrorBody | None = None) -> None:
        workers = max(1, threads) + max(0, event_streams)
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}} if trusted_proxy else {}
        self.server = _Server(
            app, host=host, port=port, threads=workers,
            # Every stream and a margin for API clients and browsers' parallel requests.
            connection_limit=workers + 4 * max(1, threads) + 100,
            channel_timeout=max(1, int(idle_timeout)),  # idle keep-alive connections
            cleanup_interval=max(1, min(10, int(request_timeout // 3) or 1)),
            # A body beyond the app's limit is refused by the server before it is read: 413, and
            # the connection closed (its unread bytes must not be taken for the next request).
            max_request_body_size=max_body_bytes,
            max_request_header_size=64 * 1024,
            clear_untrusted_proxy_headers=True,
            ident="siaga112",
            expose_tracebacks=False,
            **proxy,
        )
        self.server.request_timeout = float(request_timeout)
        self.server.error_body = error_body
        self.port = self.server.effective_port
        self.host = host
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="web", daemon=True)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wasyncore.loop(timeout=LOOP_TICK_SECONDS, map=self.server._map, count=1)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end every connection, and wait (at most `timeout`) for the workers.

        Whoever holds long requests (the console's event streams) must have been told to end
        them first; a worker still busy after `timeout` is left behind (its thread is a daemon).
        """
        self.server.accepting = False  # the loop stops accepting at its next turn
        # The workers finish what they hold while the loop still writes their last bytes out.
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        self._stopping.set()
        self.thread.join(timeout=LOOP_TICK_SECONDS * 5 + 1)
        for channel in list(self.server._map.values()):
            try:
                channel.close()
            except OSError:
                pass
