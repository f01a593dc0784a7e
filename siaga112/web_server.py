"""The production web server for `serve`: waitress, with read timeouts and a quick, clean stop.

Why waitress: it reads every request (headers and body) on one asynchronous loop and hands a
worker thread only a request that has fully arrived, and it writes responses out of a buffer on
that same loop. So a client that sends or reads slowly holds a socket, never a thread; and one
that takes longer than `request_timeout` to send its request is disconnected. Werkzeug's
development server, which this replaces, gave each connection a thread for as long as the client
liked.

A response that lasts (a console's event stream) holds no worker either: the app asks, through
`environ[HAND_OVER]`, for the connection once its response is decided, and the server gives the
socket, with the response's header bytes, to the taker (`siaga112.event_streams`) and forgets it.
The workers are the API's alone.

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
from waitress.task import ErrorTask, WSGITask
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


# environ[HAND_OVER](taker): after this response's status and headers, give the connection to
# `taker`: `taker.take(sock, head, chunked)` with the socket (non-blocking), the response's header
# bytes not yet sent, and whether the body is to be sent in chunks; or `taker.abandon()` if the
# response is not a 200 to a GET or the client has gone. The app's own body is not sent.
HAND_OVER = "siaga112.hand_over"


class _Task(WSGITask):
    """A WSGI request, which the app may ask to end by handing the connection over."""

    taker = None
    head: bytes | None = None  # the response's header, when the connection is handed over

    def get_environment(self):
        environ = super().get_environment()
        environ[HAND_OVER] = self._hand_over
        return environ

    def _hand_over(self, taker) -> None:
        self.taker = taker

    def service(self):
        try:
            super().service()
        finally:
            if self.taker is not None:  # the app failed after asking: its place is given back
                self.taker.abandon()
                self.taker = None

    def finish(self):
        taker, self.taker = self.taker, None
        if taker is None:
            super().finish()
            return
        if (self.wrote_header or not self.status.startswith("200") or self.request.command != "GET"
                or not self.channel.connected):
            taker.abandon()
            super().finish()
            return
        self.remove_content_length_header()
        self.content_length = None
        self.head = self.build_response_header()  # chunked on HTTP/1.1, and Connection: close
        self.close_on_finish = False  # the channel must not close what it hands over
        self.channel.hand_over(taker, self.head, self.chunked_response)


class _TimedChannel(HTTPChannel):
    """A connection that remembers when its current, still incomplete, request began to arrive,
    and that can be handed over (`HAND_OVER`)."""

    task_class = _Task
    error_task_class = _ErrorTask
    request_began: float | None = None
    _handing_over: tuple | None = None

    def hand_over(self, taker, head: bytes, chunked: bool) -> None:
        """Called by the worker: stop reading and writing here; the loop hands the socket over next."""
        with self.requests_lock:
            self._handing_over = (taker, head, chunked)
            del self.requests[1:]  # anything the client sent after the request is not answered

    def readable(self):
        return self._handing_over is None and super().readable()

    def writable(self):
        return self._handing_over is None and super().writable()

    def service(self):
        super().service()
        if self._handing_over is not None:
            self.server.trigger.pull_trigger(self._give_away)

    def _give_away(self) -> None:
        """On the server's loop: out of waitress's hands, into the taker's."""
        taker, head, chunked = self._handing_over
        sock = self.socket
        if not self.connected or sock is None or self.total_outbufs_len:
            taker.abandon()
            self.will_close = True
            self._handing_over = None
            self.server.pull_trigger()
            return
        self.del_channel()
        self.socket = None
        self.connected = False
        for outbuf in self.outbufs:
            try:
                outbuf.close()
            except Exception:  # noqa: BLE001 - a buffer that will not close must not keep the socket
                log.exception("closing a handed-over connection's buffer failed")
        try:
            taker.take(sock, head, chunked)
        except Exception:  # noqa: BLE001 - the loop serves every other connection: log and drop this one
            log.exception("the taker of a connection failed; closing it")
            taker.abandon()
            sock.close()

    def received(self, data):
        if self._handing_over is not None:
            return False
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

    def __init__(self, app, host: str, port: int, *, threads: int = 16,
                 request_timeout: float = 30.0, idle_timeout: int = 120, max_body_bytes: int = 1024 * 1024,
                 trusted_proxy: str = "", error_body: ErrorBody | None = None) -> None:
        workers = max(1, threads)
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}} if trusted_proxy else {}
        self.server = _Server(
            app, host=host, port=port, threads=workers,
            # A margin for API clients and browsers' parallel requests (handed-over streams not counted).
            connection_limit=5 * workers + 100,
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

        Connections handed over (the console's event streams) are their taker's to end; a worker
        still busy after `timeout` is left behind (its thread is a daemon).
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
