"""Console event streams (Server-Sent Events) held by two threads, however many are open.

A stream used to hold a web worker thread for its lifetime, blocked on the outbox; each event
then woke every one of those threads, and hundreds of them taking the interpreter lock in turn
held up the API's own requests for a tenth of a second. Here the web server hands the stream's
connection over once its response headers are decided (`siaga112.web_server.HAND_OVER`), and:

- one reader thread is woken by `events.Subscriber`, reads each new event from the outbox once,
  encodes it once, and joins the events each kind of reader may hear (its scopes and audience)
  once per kind of reader, not once per stream; it also replays what a resuming console missed
  (`Last-Event-ID`) and checks the console users' sign-ins, all of them in one call;
- one writer thread owns every stream's socket (non-blocking, in a selector): it writes what the
  reader hands it, heartbeats when a stream was quiet, ends a stream at its lifetime, and notices
  a client that went away. A client that reads too slowly has its own bounded backlog: more
  than BACKLOG_LIMIT_BYTES behind for BEHIND_GRACE_SECONDS, or STALL_SECONDS without taking a
  byte, and its stream is closed; the browser reconnects and replays from its Last-Event-ID.
  It never holds up the others.

The frame knows nothing of users: whoever opens a stream may give it a sign-in (any object), and
the hub's `check_sign_ins(list of sign-ins) -> list of bool` says which still hold.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import selectors
import socket
import threading
import time
from typing import Any, Callable

from siaga112 import events
from siaga112.db import iso

log = logging.getLogger(__name__)

RETRY_MS = 1000  # how soon EventSource reconnects after a stream ends
# A stream with more than this still unsent for BEHIND_GRACE_SECONDS (or eight times this at
# once) when more comes is closed; the console reconnects and replays from its Last-Event-ID.
BACKLOG_LIMIT_BYTES = 256 * 1024
BEHIND_GRACE_SECONDS = 2.0
# The kernel's own buffer for each stream: fixed and modest, so that a client that stops reading
# shows in our backlog within seconds, and 400 stalled streams cannot pin gigabytes of kernel memory.
SEND_BUFFER_BYTES = 128 * 1024
STALL_SECONDS = 30.0  # a stream whose client took nothing for this long while bytes waited is closed
ENDING_GRACE_SECONDS = 5.0  # an ending stream's last bytes get this long to go out
REPLAY_LIMIT = 1000  # events replayed at once; a console further behind resumes on its next connection
READ_PAGE = 200  # events read from the outbox at a time
GAP_POLL_SECONDS = 0.5  # how often the reader looks again while an id committed out of order is awaited

PREAMBLE = f"retry: {RETRY_MS}\n: connected\n\n".encode()
SESSION_ENDED = b'event: session.ended\ndata: {"reason":"signed_out"}\n\n'
CHUNKED_END = b"0\r\n\r\n"

SignInCheck = Callable[[list], list]


def format_event(event) -> str:
    """One event in the SSE wire format; the data line is JSON: id, kind, time, audience, payload."""
    data = json.dumps({"id": event.id, "kind": event.kind, "at": iso(event.at), "audience": event.audience,
                       "payload": event.payload}, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def heartbeat_event() -> bytes:
    """Data, not a comment: a page's script cannot see comments, and must hear that the line is live."""
    return f"event: heartbeat\ndata: {json.dumps({'at': time.time()})}\n\n".encode()


def _chunk(data: bytes) -> bytes:
    return b"%X\r\n%b\r\n" % (len(data), data)


@dataclasses.dataclass(frozen=True)
class Reader:
    """Who reads a stream and from where: the events after `after_id` that `audience` (a username;
    None for a machine client) may see, of the `kinds` it may hear (None: every kind)."""

    after_id: int
    audience: str | None
    kinds: frozenset[str] | None
    heartbeat: float
    lifetime: float
    sign_in: Any = None  # given to check_sign_ins; None: nothing to check (a bearer token)

    def hears(self, event) -> bool:
        return (event.id > self.after_id and events.visible_to(event, self.audience)
                and (self.kinds is None or event.kind in self.kinds))


class _Stream:
    """One open stream: its reader, its socket and what waits to be written to it."""

    def __init__(self, reader: Reader, sock: socket.socket, chunked: bool) -> None:
        self.reader = reader
        self.sock = sock
        self.chunked = chunked
        self.backlog: collections.deque[memoryview] = collections.deque()
        self.backlog_bytes = 0
        now = time.monotonic()
        self.next_heartbeat = now + reader.heartbeat
        self.ends_at = now + reader.lifetime
        self.stalled_since: float | None = None
        self.ending_since: float | None = None
        self.closed = False
        self.writing = False  # the selector also waits for room to write (a backlog is waiting)
        self.live = False  # the reader fans new events out to it (after any replay)
        self.replayed: set[int] = set()  # ids the replay sent that the live read may still bring
        self.replay_from = reader.after_id
        self.replay_sent = 0
        self.replay_bytes = 0

    def frame(self, data: bytes) -> bytes:
        return _chunk(data) if self.chunked else data


class _Ticket:
    """A stream promised to a request: the web server gives it the connection, or abandons it."""

    def __init__(self, hub: "EventStreams", reader: Reader) -> None:
        self._hub = hub
        self.reader = reader
        self._used = False

    def take(self, sock: socket.socket, head: bytes, chunked: bool) -> None:
        """The connection, its response headers not yet sent (called on the web server's loop: quick)."""
        if self._used:
            raise RuntimeError("a stream's connection is taken once")
        self._hub._open(self.reader, sock, head, chunked)
        self._used = True

    def abandon(self) -> None:
        """The request ended otherwise (an error, the client gone): the place is given back."""
        if not self._used:
            self._used = True
            self._hub._release()


class EventStreams:
    """Every open event stream of one web app; the threads start with the first stream."""

    def __init__(self, database, *, max_streams: int = 400, check_sign_ins: SignInCheck | None = None,
                 backlog_limit_bytes: int = BACKLOG_LIMIT_BYTES, stall_seconds: float = STALL_SECONDS) -> None:
        self.database = database
        self.max_streams = max_streams
        self.check_sign_ins = check_sign_ins
        self.backlog_limit_bytes = backlog_limit_bytes
        self.stall_seconds = stall_seconds
        self._lock = threading.Lock()
        self._reserved = 0
        self._closing = False
        self._threads: list[threading.Thread] = []
        # The writer's inbox (any thread posts, the writer takes) and its wake-up line.
        self._commands: collections.deque = collections.deque()
        self._woken = False
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        # The reader's inbox: streams waiting for their replay.
        self._admitting: collections.deque[_Stream] = collections.deque()
        self._reader_wake = threading.Event()
        self._next_timer = 0.0  # the writer's next look at heartbeats and lifetimes
        self.dropped = 0  # streams closed for falling behind (for tests and logs)

    # -- the request side --------------------------------------------------------------------
    def reserve(self, reader: Reader) -> _Ticket | None:
        """A place for a new stream, or None when `max_streams` are open (the caller refuses it)."""
        with self._lock:
            if self._closing or self._reserved >= self.max_streams:
                return None
            self._reserved += 1
        return _Ticket(self, reader)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return self._reserved

    def close(self, timeout: float = 3.0) -> None:
        """End every stream (its last bytes sent where the client takes them) and stop the threads.

        New streams are refused from here on (the server is stopping)."""
        with self._lock:
            self._closing = True
            threads = list(self._threads)
        if not threads:
            return
        self._reader_wake.set()
        self._post(("close_all",))
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    def _release(self) -> None:
        with self._lock:
            self._reserved -= 1

    def _open(self, reader: Reader, sock: socket.socket, head: bytes, chunked: bool) -> None:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        except OSError:
            pass  # not every socket has one to set (tests); the backlog limit holds all the same
        stream = _Stream(reader, sock, chunked)
        with self._lock:
            if self._closing:  # the server is stopping: this one ends before it began
                sock.close()
                self._reserved -= 1
                return
            if not self._threads:
                self._start()
            self._post(("attach", stream, head))  # the writer knows the stream before the reader writes to it
        self._admitting.append(stream)
        self._reader_wake.set()

    # -- threads ----------------------------------------------------------------------------
    def _start(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._threads = [threading.Thread(target=self._write_loop, name="event-streams-writer", daemon=True),
                         threading.Thread(target=self._read_loop, name="event-streams-reader", daemon=True)]
        for thread in self._threads:
            thread.start()

    def _post(self, command: tuple) -> None:
        self._commands.append(command)
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):
                pass  # the line is full (the writer is waking anyway) or closed (it has stopped)

    # -- the reader: the outbox, read once for every stream ---------------------------------
    def _read_loop(self) -> None:
        subscriber = events.subscriber(self.database)
        subscriber.add_listener(self._reader_wake.set)
        cursor: events.Cursor | None = None
        live: list[_Stream] = []
        next_sign_in_check = time.monotonic()
        try:
            with subscriber.subscription():
                while not self._closing:
                    self._reader_wake.clear()
                    try:
                        if cursor is None:
                            with self.database.session() as session:
                                cursor = events.Cursor(events.latest_id(session))
                        live = [stream for stream in live if not stream.closed]
                        self._admit(cursor, live)
                        while self._fan_out(cursor, subscriber.latest, live):
                            pass
                        now = time.monotonic()
                        if now >= next_sign_in_check:
                            next_sign_in_check = now + self._check_sign_ins(live)
                    except Exception:  # a lost database must not end the streams: they heartbeat on
                        log.exception("reading console events failed; retrying")
                        self._reader_wake.wait(1.0)
                        continue
                    wait = next_sign_in_check - time.monotonic()
                    if cursor.floor < cursor.high:
                        wait = min(wait, GAP_POLL_SECONDS)
                    self._reader_wake.wait(max(0.0, min(wait, 5.0)))
        finally:
            subscriber.remove_listener(self._reader_wake.set)

    def _admit(self, cursor: events.Cursor, live: list[_Stream]) -> None:
        """Replay to each new stream what it missed up to where the live read is, then make it live."""
        while self._admitting:
            stream = self._admitting[0]
            if stream.closed:
                self._admitting.popleft()
                continue
            after = stream.replay_from
            sent = stream.replay_sent
            complete = True
            while after < cursor.high:
                with self.database.session() as session:
                    rows = [row for row in events.fetch_every(session, after, limit=READ_PAGE)
                            if row.id <= cursor.high]
                if not rows:
                    break
                after = rows[-1].id
                heard = [row for row in rows if stream.reader.hears(row)]
                if heard:
                    data = b"".join(_wire(row) for row in heard)
                    self._post(("send", [(data, [stream])]))
                    stream.replayed.update(row.id for row in heard if cursor.awaiting(row.id))
                    sent += len(heard)
                    stream.replay_bytes += len(data)
                stream.replay_from, stream.replay_sent = after, sent  # a failed read resumes here
                # A replay never fills more than half the backlog a stream may have: the rest is
                # for what happens meanwhile, and the next connection takes the next part.
                if (sent >= REPLAY_LIMIT or stream.replay_bytes >= self.backlog_limit_bytes // 2) \
                        and after < cursor.high:
                    complete = False
                    break
            self._admitting.popleft()
            if complete:
                stream.live = True
                live.append(stream)
            else:
                self._post(("end", stream, b""))  # the browser resumes from the last id it got

    def _fan_out(self, cursor: events.Cursor, latest: int, live: list[_Stream]) -> bool:
        """Read the events past the cursor once and hand each stream those it may hear; True if a
        full page was read (more may wait)."""
        if latest <= cursor.high and cursor.floor >= cursor.high:
            return False
        with self.database.session() as session:
            rows = events.fetch_every(session, cursor.floor, limit=READ_PAGE)
        fresh_ids = set(cursor.take([row.id for row in rows]))
        fresh = [row for row in rows if row.id in fresh_ids]
        if fresh and live:
            self._post(("send", _deliveries(fresh, live)))
        return len(rows) >= READ_PAGE and bool(fresh)

    def _check_sign_ins(self, live: list[_Stream]) -> float:
        """End the streams whose user's sign-in no longer holds; returns when to check again."""
        checked = [stream for stream in live if stream.reader.sign_in is not None and not stream.closed]
        if not checked or self.check_sign_ins is None:
            return 1.0
        answers = self.check_sign_ins([stream.reader.sign_in for stream in checked])
        for stream, still in zip(checked, answers):
            if not still:
                stream.live = False
                self._post(("end", stream, SESSION_ENDED))
        return min(stream.reader.heartbeat for stream in checked)

    # -- the writer: every socket, never blocking -------------------------------------------
    def _write_loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        streams: set[_Stream] = set()
        self._next_timer = time.monotonic() + 1.0
        closing_until: float | None = None
        try:
            while True:
                timeout = max(0.0, min(self._next_timer - time.monotonic(), 1.0))
                for key, mask in selector.select(timeout):
                    if key.fileobj is self._wake_r:
                        continue
                    stream = key.data
                    if mask & selectors.EVENT_READ:
                        self._on_readable(selector, streams, stream)
                    if mask & selectors.EVENT_WRITE and not stream.closed:
                        self._flush(selector, streams, stream)
                self._woken = False
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
                while self._commands:
                    command = self._commands.popleft()
                    if command[0] == "close_all":
                        closing_until = time.monotonic() + 1.0
                        for stream in list(streams):
                            self._end(selector, streams, stream, b"")
                    else:
                        self._command(selector, streams, command)
                now = time.monotonic()
                if now >= self._next_timer or closing_until is not None:
                    self._next_timer = self._timers(selector, streams, now)
                if closing_until is not None and (not streams or now >= closing_until):
                    break
        finally:
            for stream in list(streams):
                self._close(selector, streams, stream)
            selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _command(self, selector, streams: set[_Stream], command: tuple) -> None:
        kind = command[0]
        if kind == "attach":
            _, stream, head = command
            streams.add(stream)
            try:
                selector.register(stream.sock, selectors.EVENT_READ, stream)
            except (OSError, ValueError):  # closed by the client before it got here
                stream.closed = True
                streams.discard(stream)
                try:
                    stream.sock.close()
                except OSError:
                    pass
                self._release()
                return
            self._queue(selector, streams, stream, head)
            self._queue(selector, streams, stream, stream.frame(PREAMBLE))
            self._next_timer = min(self._next_timer, stream.next_heartbeat, stream.ends_at)
        elif kind == "send":
            for data, members in command[1]:
                framed = {}
                for stream in members:
                    if stream.closed or stream.ending_since is not None:
                        continue
                    wire = framed.get(stream.chunked)
                    if wire is None:
                        wire = framed[stream.chunked] = stream.frame(data)
                    self._queue(selector, streams, stream, wire)
                    stream.next_heartbeat = time.monotonic() + stream.reader.heartbeat
        elif kind == "end":
            _, stream, last = command
            if not stream.closed:
                self._end(selector, streams, stream, last)

    def _queue(self, selector, streams, stream: _Stream, data: bytes) -> None:
        """Add bytes (as they go on the wire) to a stream's backlog and write what the socket takes."""
        if stream.closed or not data:
            return
        if stream.ending_since is None and self._too_far_behind(stream):
            self.dropped += 1
            log.info("closing a console event stream %d bytes behind (its console reconnects and resumes)",
                     stream.backlog_bytes)
            self._close(selector, streams, stream)
            return
        if not stream.backlog and stream.ending_since is None:
            # The usual case, once per stream for each event: straight to the socket.
            try:
                sent = stream.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(selector, streams, stream)  # the client went away
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        stream.backlog.append(memoryview(data))
        stream.backlog_bytes += len(data)
        if len(stream.backlog) == 1:
            self._flush(selector, streams, stream)

    def _too_far_behind(self, stream: _Stream) -> bool:
        """More than the limit waits, and has waited BEHIND_GRACE_SECONDS without the client
        catching up (one large read of the outbox is not a slow client), or far more waits."""
        if stream.backlog_bytes <= self.backlog_limit_bytes:
            return False
        if stream.backlog_bytes > 8 * self.backlog_limit_bytes:
            return True
        return stream.stalled_since is not None and time.monotonic() - stream.stalled_since > BEHIND_GRACE_SECONDS

    def _flush(self, selector, streams, stream: _Stream) -> None:
        while stream.backlog:
            head = stream.backlog[0]
            try:
                sent = stream.sock.send(head)
            except BlockingIOError:
                break
            except OSError:
                self._close(selector, streams, stream)  # the client went away
                return
            stream.backlog_bytes -= sent
            if sent < len(head):
                stream.backlog[0] = head[sent:]
                break
            stream.backlog.popleft()
        if stream.backlog:
            if stream.stalled_since is None:
                stream.stalled_since = time.monotonic()
            self._want(selector, stream, write=True)
        else:
            stream.stalled_since = None
            self._want(selector, stream, write=False)
            if stream.ending_since is not None:
                self._close(selector, streams, stream)

    @staticmethod
    def _want(selector, stream: _Stream, *, write: bool) -> None:
        if stream.writing != write:
            stream.writing = write
            selector.modify(stream.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0), stream)

    def _on_readable(self, selector, streams, stream: _Stream) -> None:
        """A stream's client sends nothing more; reading tells when it has gone."""
        try:
            data = stream.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(selector, streams, stream)

    def _end(self, selector, streams, stream: _Stream, last: bytes) -> None:
        """Send `last` (if any) and the end of the body, then close once it is out."""
        if stream.ending_since is not None:
            return
        if last:
            self._queue(selector, streams, stream, stream.frame(last))
        stream.ending_since = time.monotonic()
        stream.live = False
        if stream.chunked:
            self._queue(selector, streams, stream, CHUNKED_END)
        if not stream.closed and not stream.backlog:
            self._close(selector, streams, stream)

    def _timers(self, selector, streams: set[_Stream], now: float) -> float:
        """Heartbeats due, lifetimes over, stalled or lingering streams; returns the next time to look."""
        beat = None
        soonest = now + 1.0
        for stream in list(streams):
            if stream.closed:
                continue
            if stream.ending_since is not None:
                if now - stream.ending_since > ENDING_GRACE_SECONDS:
                    self._close(selector, streams, stream)
                continue
            if stream.stalled_since is not None and now - stream.stalled_since > self.stall_seconds:
                self.dropped += 1
                log.info("closing a console event stream whose client took nothing for %.0f s", self.stall_seconds)
                self._close(selector, streams, stream)
                continue
            if now >= stream.ends_at:
                self._end(selector, streams, stream, b"")
                continue
            if now >= stream.next_heartbeat:
                beat = beat or heartbeat_event()
                self._queue(selector, streams, stream, stream.frame(beat))
                stream.next_heartbeat = now + stream.reader.heartbeat
            soonest = min(soonest, stream.next_heartbeat, stream.ends_at)
        return soonest

    def _close(self, selector, streams: set[_Stream], stream: _Stream) -> None:
        if stream.closed:
            return
        stream.closed = True
        stream.live = False
        streams.discard(stream)
        try:
            selector.unregister(stream.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            stream.sock.close()
        except OSError:
            pass
        stream.backlog.clear()
        self._release()


def _wire(event) -> bytes:
    """format_event's bytes, made once per event however many streams hear it."""
    wire = getattr(event, "_sse_wire", None)
    if wire is None:
        wire = event._sse_wire = format_event(event).encode("utf-8")
    return wire


def _deliveries(fresh: list, live: list[_Stream]) -> list[tuple[bytes, list[_Stream]]]:
    """The fresh events each live stream hears, joined once for every stream that hears the same:
    streams of one kind of reader (scopes, audience) share one bytes object."""
    first = fresh[0].id
    groups: dict[Any, list[_Stream]] = {}
    for stream in live:
        if stream.closed or not stream.live:
            continue
        reader = stream.reader
        shared = reader.after_id < first and not stream.replayed
        key = (reader.kinds, reader.audience) if shared else id(stream)
        groups.setdefault(key, []).append(stream)
    out = []
    for members in groups.values():
        sample = members[0]
        heard = [row for row in fresh if sample.reader.hears(row) and row.id not in sample.replayed]
        sample.replayed.difference_update(row.id for row in fresh)
        if heard:
            out.append((b"".join(_wire(row) for row in heard), members))
    return out
