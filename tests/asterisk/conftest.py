"""Fixtures for the tests against a real Asterisk (marker `asterisk`); see README.md here.

    center            Siaga112's own services (FastAGI and the web console, as `siaga112 serve`
                      starts them) on free ports, over this test's database
    asterisk          Asterisk with the shipped config/asterisk wired to `center`, booted
                      (options: @pytest.mark.pbx(call_takers=10, globals_={...}, agi="down"))
    asterisk_factory  start(agi_port=..., call_takers=..., globals_=...) for an Asterisk of your own
    sipp              SIPp: sipp.trunk_call(...), sipp.phone(account, ...), sipp.network()
    phones            phones(count=3, answer_ms=1000, talk_ms=3000): call-takers' phones, registered
    ami               an AMI session with events on (AmiWatcher)
    console           console(username, password): a user signed in to the web console over HTTP

Every test here skips, saying why, where no Asterisk or SIPp is found (`scripts/asterisk`
builds both from ../shared/asterisk/kit; `scripts/test` runs it first).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

from siaga112.db import Database
from siaga112.runtime import Runtime
from siaga112.settings import load_settings
from tests.asterisk.harness import (
    AMI_SECRET, AmiWatcher, Asterisk, ConsoleSession, Sipp, StalledServer, Tools, find_tools, free_port,
)
from tests.conftest import POSTGRES_URL, _empty_postgres

HERE = __file__.rsplit("/", 1)[0]
TOOLS = find_tools()

# IVR timings for a test: the shipped prompts play in full; waits a caller would sit through
# in silence are shortened so a call reaches the queue in about 20 s.
IVR_SETTINGS = {
    "language": "en",
    "statement_max_seconds": 3,
    "statement_silence_seconds": 2,
    "service_choice_timeout_ms": 1000,
    "silent_check_timeout_ms": 1000,
    # No transcription: it is not what these tests are about, and Whisper on 100 statements at
    # once would take the machine (speech is tested in tests/recordings).
    "speech_engine": "vosk",
    "vosk_model": "",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def asterisk_tools() -> Tools:
    if isinstance(TOOLS, str):
        pytest.skip(TOOLS)
    return TOOLS


@pytest.fixture
def database(request, tmp_path):
    """One backend per test here (PostgreSQL when configured, as in production; else SQLite):
    each test drives a whole PBX, and twice would double the suite's longest part."""
    if POSTGRES_URL:
        database = request.getfixturevalue("postgres_database")
        _empty_postgres(database)
        yield database
        return
    shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "siaga112.db")
    database = Database(f"sqlite:///{tmp_path / 'siaga112.db'}")
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path, database):
    (tmp_path / "recordings").mkdir(exist_ok=True)
    return load_settings(overrides={
        "data_dir": str(tmp_path), "database_url": database.url, "recordings_dir": str(tmp_path / "recordings"),
        "secret_key": "test-secret", "web_port": 0, "agi_port": 0, "sia_port": 0, **IVR_SETTINGS,
    }, environ={})


@dataclass
class Center:
    """Siaga112's services for one test."""

    runtime: Runtime
    services: dict

    @property
    def agi_port(self) -> int:
        return self.services["agi"].port

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.services['web'].port}"

    @property
    def recordings_dir(self) -> str:
        return self.runtime.settings.recordings_dir

    def use_ami(self, asterisk: Asterisk) -> None:
        """Point the settings' ami_* at this Asterisk (as an administrator sets them) and start
        `serve`'s ami service, which records answers, screen-pops and ends from its events."""
        from center.serve import SERVICE_FACTORIES

        settings = self.runtime.settings
        settings.ami_host, settings.ami_port = "127.0.0.1", asterisk.ami_port
        settings.ami_username, settings.ami_secret = "siaga112", AMI_SECRET
        listener = SERVICE_FACTORIES["ami"](self.runtime)
        listener.start()
        self.services["ami"] = listener
        assert listener.state.connected.wait(30), f"the AMI listener did not connect: {listener.state.last_error}"

    def stop_ami(self) -> None:
        """Stop the ami service (Siaga112's listener away); `use_ami` starts it again."""
        listener = self.services.pop("ami", None)
        if listener is not None:
            listener.stop()


@pytest.fixture
def center(runtime):
    """FastAGI and the web console, started by the same factories `siaga112 serve` uses."""
    from center.serve import SERVICE_FACTORIES
    from siaga112.serve import start_services, stop_services

    services = start_services(runtime, SERVICE_FACTORIES, ["agi", "web"])
    # An event stream notices its client has gone only when it next writes: a heartbeat a
    # second lets the web service stop at once after a test.
    by_name = {service.name: service for service in services}
    by_name["web"].app.config["SSE_HEARTBEAT_SECONDS"] = 1.0
    center = Center(runtime, by_name)
    yield center
    # As `siaga112 serve` stops: tell background work, then stop the services. The IVR's
    # listeners (statement transcription, the work after a call) are stopped too, which serve
    # does not do yet: their threads would outlive the test.
    runtime.stopping.set()
    center.stop_ami()
    stop_services(services)
    hooks = by_name["agi"].hooks
    for listener in (hooks.statement_listener, hooks.call_ended_listener):
        stop = getattr(listener, "stop", None)
        if callable(stop):
            stop()


@pytest.fixture
def asterisk_factory(asterisk_tools, tmp_path, request):
    """start(agi_port=..., call_takers=3, globals_=None, recordings=None) -> a booted Asterisk; all
    stopped at the end.

    Its folder is removed afterwards; when the test failed (or SIAGA112_KEEP_ASTERISK is set),
    its configuration and logs are kept under the test's tmp_path (asterisk-N/) for reading."""
    started: list[Asterisk] = []

    def start(*, agi_port: int, call_takers: int = 3, globals_: dict[str, str] | None = None,
              recordings: str | None = None) -> Asterisk:
        pbx = Asterisk(asterisk_tools, agi_port=agi_port, call_takers=call_takers, globals_=globals_,
                       recordings=recordings)
        started.append(pbx)
        pbx.start()
        return pbx

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    keep = failed or bool(os.environ.get("SIAGA112_KEEP_ASTERISK"))
    for index, pbx in enumerate(started):
        pbx.stop()
        if keep:
            shutil.copytree(pbx.root, tmp_path / f"asterisk-{index}", ignore=shutil.ignore_patterns("sounds", "moh", "*.ctl"), symlinks=True)
        shutil.rmtree(pbx.root, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def asterisk(center, asterisk_factory, request):
    """Asterisk with the shipped files, its FastAGI pointed at `center`, and `center`'s AMI
    settings pointed at it. Options: @pytest.mark.pbx(call_takers=10, globals_={...}, agi=...),
    agi being "center" (the default), "down" (nothing listens) or "stalled" (a server that
    accepts and never answers; the fixture `stalled_agi` counts its connections).

    `center` is set up first so that it is stopped after Asterisk: the calls Asterisk ends as
    it stops still reach call-ended."""
    marker = request.node.get_closest_marker("pbx")
    options = dict(marker.kwargs) if marker else {}
    agi = options.pop("agi", "center")
    if agi == "center":
        port = center.agi_port
    elif agi == "down":
        port = free_port()
    elif agi == "stalled":
        port = request.getfixturevalue("stalled_agi").port
    else:
        raise ValueError(f"pbx(agi={agi!r}): center, down or stalled")
    pbx = asterisk_factory(agi_port=port, recordings=center.recordings_dir, **options)
    center.use_ami(pbx)
    return pbx


@pytest.fixture
def stalled_agi():
    """A FastAGI server that accepts connections and never says a word."""
    server = StalledServer()
    yield server
    server.close()


@pytest.fixture
def sipp(asterisk_tools, asterisk, tmp_path):
    runner = Sipp(asterisk_tools, asterisk, tmp_path / "sipp")
    yield runner
    runner.stop_all()


@pytest.fixture
def phones(sipp, asterisk):
    """phones(count=None, answer_ms=1000, talk_ms=3000) -> the call-takers' phones (all of the
    PBX's by default), registered and reachable (qualified) before it returns."""

    def start(count: int | None = None, *, answer_ms: int = 1000, talk_ms: int | None = 3000):
        accounts = asterisk.phones[:count] if count is not None else asterisk.phones
        started = [sipp.phone(account, answer_ms=answer_ms, talk_ms=talk_ms) for account in accounts]
        for phone in started:
            asterisk.wait_until(lambda p=phone: asterisk.contact_reachable(p.account.name), timeout=30,
                                what=f"phone {phone.account.name} registered and reachable")
        return started

    return start


@pytest.fixture
def ami(asterisk):
    watcher = AmiWatcher(asterisk.ami_port)
    yield watcher
    watcher.close()


@pytest.fixture
def console(center):
    """console(username, password) -> a ConsoleSession signed in over HTTP."""
    opened: list[ConsoleSession] = []

    def sign_in(username: str, password: str) -> ConsoleSession:
        session = ConsoleSession(center.web_url, username, password)
        opened.append(session)
        return session

    yield sign_in
    for session in opened:
        session.close()
