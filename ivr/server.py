"""The FastAGI server: one asyncio loop in its own thread, one task per Asterisk connection.

Asterisk connects once per AGI() call and waits, with the caller listening to silence, until
the script answers; so the listen backlog is large (a burst of calls must not be refused by
the kernel) and nothing on the loop blocks: database work goes to the writer thread of
`ivr/store.py`. A connection that fails in any way ends only its own session.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable

from ivr import call_journal
from ivr.call_journal import JOURNAL_CLIENT  # noqa: F401 - the name older callers look for
from ivr.connection import AgiConnection
from ivr.context import StepContext
from ivr.hooks import IvrHooks
from ivr.session import (
    REPLY_LINE_MAX_BYTES, AgiCommandFailed, AgiHangup, AgiProtocolError, AgiRefused, AgiSession,
)
from ivr.steps import ROUTES, Step
from ivr.store import CallStore
from ivr.workers import AgiWorkers
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)

# The runtime client name under which other parts hand the IVR their listeners:
# runtime.provide(HOOKS_CLIENT, IvrHooks(statement_listener=..., call_ended_listener=...)).
HOOKS_CLIENT = "ivr_hooks"
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
STOP_GRACE_SECONDS = 3.0  # serve must stop within 10 s (systemd kills at 90, operators sooner)
WATCHDOG_SECONDS = 0.5


class AgiServer:
    """The asyncio side: accepts connections and runs each through its step."""

    def __init__(self, context: StepContext, *, host: str, port: int,
                 routes: dict[str, Step] | None = None, reuse_port: bool = False) -> None:
        self.context = context
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self.routes = ROUTES if routes is None else routes
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[asyncio.Task] = set()
        self._live: set[AgiSession] = set()
        self._watchdog: asyncio.Task | None = None
        self.refused = 0
        self.unknown_paths = 0
        self.failed = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AgiConnection(line_limit=REPLY_LINE_MAX_BYTES, on_connected=self._connected),
            self.host, self.port, backlog=LISTEN_BACKLOG, reuse_port=self.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        self._watchdog = asyncio.create_task(self._watch(), name="agi-watchdog")

    async def _watch(self) -> None:
        """End sessions whose Asterisk has not replied within agi_command_timeout_seconds."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            now = loop.time()
            for session in list(self._live):
                if session.expire_if_late(now):
                    log.warning("FastAGI %s (uniqueid %s): no reply in time, session ended",
                                session.script, session.uniqueid[:64])

    async def stop(self) -> None:
        """Stop accepting, give running sessions a moment to finish, then cancel the rest."""
        if self._server is not None:
            self._server.close()
        if self._sessions:
            _done, pending = await asyncio.wait(set(self._sessions), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    def _connected(self, connection: AgiConnection) -> None:
        session = AgiSession(connection, command_timeout=self.context.settings.agi_command_timeout_seconds)
        task = asyncio.get_running_loop().create_task(self.serve(session))
        self._sessions.add(task)
        self._live.add(session)
        task.add_done_callback(lambda done: (self._sessions.discard(done), self._live.discard(session)))

    async def serve(self, session: AgiSession) -> None:
        """One FastAGI connection: environment, route, step, close. Never raises."""
        try:
            try:
                await session.read_environment(self.context.settings.agi_env_timeout_seconds)
            except AgiRefused as error:
                # Not Asterisk, or an Asterisk in trouble: refuse this client only.
                self.refused += 1
                log.warning("FastAGI client %s refused: %s", session.peer, error)
                return
            step = self.routes.get(session.script)
            if step is None:
                # Ending at once is AGISTATUS SUCCESS; the dialplan's fail-open queues the caller.
                self.unknown_paths += 1
                log.warning("FastAGI path %r from %s (uniqueid %s) has no step; session ended",
                            session.script[:80], session.peer, session.uniqueid[:64])
                return
            await step(session, self.context)
        except AgiHangup as error:
            log.info("FastAGI %s (uniqueid %s): caller gone: %s", session.script, session.uniqueid[:64], error)
        except (AgiCommandFailed, AgiProtocolError) as error:
            self.failed += 1
            log.warning("FastAGI %s (uniqueid %s) ended early: %s", session.script, session.uniqueid[:64], error)
        except asyncio.CancelledError:
            log.warning("FastAGI %s (uniqueid %s) cancelled at shutdown", session.script, session.uniqueid[:64])
            raise
        except Exception:
            self.failed += 1
            log.exception("FastAGI %s (uniqueid %s) failed", session.script, session.uniqueid[:64])
        finally:
            await session.close()


class AgiService:
    """The `agi` service of `siaga112 serve`: the FastAGI server in its own thread and loop.

    With `agi_workers` above 1 it also starts that many less one worker processes on the same
    port (`ivr/workers.py`); `hooks_factory(runtime)` builds the hooks of each of them, and of
    this one unless `hooks` is given.
    """

    name = "agi"

    def __init__(self, runtime: Runtime, *, hooks: IvrHooks | None = None,
                 hooks_factory: Callable[[Runtime], IvrHooks] | None = None,
                 routes: dict[str, Step] | None = None, reuse_port: bool = False) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.store = CallStore(runtime.database, timeout_s=settings.ivr_db_timeout_seconds)
        if hooks is None and hooks_factory is not None:
            hooks = hooks_factory(runtime)
        hooks = hooks or runtime.client(HOOKS_CLIENT, lambda _settings: IvrHooks())
        self.journal = call_journal.runtime_journal(runtime)
        self.replayer = call_journal.replayer(self.journal, runtime.database, call_ended=hooks.call_ended)
        self.context = StepContext(settings=settings, store=self.store, hooks=hooks, journal=self.journal)
        self.workers = AgiWorkers(settings, hooks_factory, settings.agi_workers) if settings.agi_workers > 1 else None
        self.server = AgiServer(self.context, host=settings.bind_host, port=settings.agi_port, routes=routes,
                                reuse_port=reuse_port or self.workers is not None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._start_error: BaseException | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with agi_port = 0)."""
        return self.server.port

    @property
    def hooks(self) -> IvrHooks:
        return self.context.hooks

    def start(self) -> None:
        """Start the writer thread and the server; return once it listens (or raise why it cannot)."""
        self.store.start()
        self.replayer.start()
        self._thread = threading.Thread(target=self._run, name="agi", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self.store.stop()
            self.replayer.stop()
            raise self._start_error
        if self.workers is not None:
            try:
                self.workers.start(self.port)
            except BaseException:
                self.stop()
                raise
        log.info("FastAGI on agi://%s:%s/ (paths: %s)", self.server.host, self.port, ", ".join(self.server.routes))

    def stop(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=STOP_GRACE_SECONDS * 2 + 1)
            self._thread = None
        self.store.stop()
        self.replayer.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as error:  # e.g. the port is taken: tell start() and end
            self._start_error = error
            self._ready.set()
            return
        self._ready.set()
        await self._stopping.wait()
        await self.server.stop()
