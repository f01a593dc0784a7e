"""The socket side of one FastAGI session: Asterisk's lines in, commands out.

A bare asyncio Protocol rather than asyncio streams. AGI is strictly one line out, one line
(rarely a few) back, a dozen times per caller and a thousand callers at once; streams spend
more CPU per line than the whole AGI codec (a reader, a writer, a drain, a wake-up each), and
every extra wake-up is one more turn of a busy event loop that a caller waits through. Here
`data_received` cuts complete lines into a queue, and a session waiting for one is woken
once, with the line already there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable


class LineTooLong(Exception):
    """The client sent more than the line limit without a line break."""


class AgiConnection(asyncio.Protocol):
    """Complete lines from Asterisk, in order; writes go straight to the transport.

    `on_connected(connection)` is called once the socket is up (the server starts the session
    there). A line longer than `line_limit` stops reading: the session is refused or ended,
    nothing of it is buffered past the limit.
    """

    def __init__(self, *, line_limit: int, on_connected: Callable[["AgiConnection"], None] | None = None) -> None:
        self.line_limit = line_limit
        self.transport: asyncio.Transport | None = None
        self._on_connected = on_connected
        self._partial = bytearray()
        self._lines: deque[bytes] = deque()
        self._waiter: asyncio.Future | None = None
        self._drained: asyncio.Future | None = None
        self._paused = False
        self._closed = False
        self._overflow = False

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        if self._on_connected is not None:
            self._on_connected(self)

    def data_received(self, data: bytes) -> None:
        partial = self._partial
        partial += data
        end = partial.find(b"\n")
        if end >= 0:
            lines = self._lines
            start = 0
            while end >= 0:
                lines.append(bytes(partial[start:end + 1]))
                start = end + 1
                end = partial.find(b"\n", start)
            del partial[:start]
        if len(partial) > self.line_limit:
            self._overflow = True
            partial.clear()
            if self.transport is not None:
                self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False  # close our side too: a FastAGI session ends with its socket

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wake()
        _release(self._drained)
        self._drained = None

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        _release(self._drained)
        self._drained = None

    # --- for the session ---------------------------------------------------------------

    @property
    def peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    async def readline(self) -> bytes:
        """The next line with its line break; b"" once the connection is closed and read out.

        Raises LineTooLong when the client sent a line over the limit."""
        lines = self._lines
        while not lines:
            if self._overflow:
                raise LineTooLong(f"a line longer than {self.line_limit} bytes")
            if self._closed:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return lines.popleft()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    async def drain(self) -> None:
        """Wait while the kernel's send buffer is full (Asterisk not reading).

        A closed connection is not an error here: the replies already received are still read,
        and the read after them tells the session the connection ended."""
        if self._paused and not self._closed:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def feed(self, data: bytes, *, eof: bool = False) -> None:
        """Hand the connection bytes as if they had arrived (for a session without a socket)."""
        self.data_received(data)
        if eof:
            self.eof_received()

    def _wake(self) -> None:
        _release(self._waiter)


def _release(future: asyncio.Future | None) -> None:
    """Let whoever awaits `future` go on (nothing if nobody does)."""
    if future is not None and not future.done():
        future.set_result(None)
