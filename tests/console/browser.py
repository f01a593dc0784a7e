"""The browser test harness: a live console server, Chromium through Playwright, logged-in pages.

Used by every console test that drives a real browser (call-takers' and supervisors' alike):

    def test_x(console, logged_in_page):
        page = logged_in_page("supervisor")
        page.goto(console.url("/"))
        shot(page, "floor")

`console` is a LiveServer on the test's runtime, `logged_in_page(role, **user)` signs a fresh
user of that role in and returns its page, `shot(page, name)` saves tests/artifacts/NAME.png.

The console's Content-Security-Policy forbids `eval`, which Playwright's `page.wait_for_function`
needs in the page: wait on a condition with `wait_until(page, "() => ...")` instead (or `expect`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}  # the smallest screen a console must work on
PASSWORD = "correct horse battery"
WAIT_MS = 5000  # the longest any expectation waits for the page


class LiveServer:
    """The web app of a runtime on a loopback port chosen by the OS, served as `serve` serves it
    (waitress, `siaga112.web_server`), in a thread."""

    def __init__(self, runtime, test_config: dict | None = None, **server_options) -> None:
        from center.web import create_app
        from siaga112.web_server import WebServer

        self.runtime = runtime
        self.app = create_app(runtime, {"TESTING": True, **(test_config or {})})
        self.server = WebServer(self.app, "127.0.0.1", 0, **{"threads": 8, **server_options})
        self.port = self.server.port

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "LiveServer":
        self.server.start()
        return self

    def __exit__(self, *_exc) -> None:
        from agent_console.events_api import close_event_streams
        from siaga112 import events

        close_event_streams(self.app)  # open event streams end, then the server stops
        self.server.stop(timeout=5)
        events.subscriber(self.runtime.database).stop()


def launch_browser(playwright):
    """Debian's Chromium, headless (Playwright's own browser download is not used)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def create_user(database, role: str, *, username: str | None = None, phone_interface: str | None = None,
                language: str | None = None) -> str:
    """A console account with PASSWORD; returns its username."""
    from siaga112 import auth

    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    with database.session() as session:
        user = auth.create_user(session, username, role, PASSWORD, phone_interface=phone_interface)
        user.language = language
    return username


def log_in(page, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would, and wait for the console."""
    page.goto(server.url("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click(".login-card button[type=submit]")
    page.wait_for_selector("body[data-user][data-ready]", timeout=WAIT_MS)


def shot(page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def wait_until(page, expression: str, arg=None, timeout_ms: int = WAIT_MS):
    """Wait until a page function returns something truthy, and return it.

    Polls through `page.evaluate` (the DevTools protocol, which the page's policy does not govern),
    every animation frame or so, rather than `wait_for_function`, which the policy's ban on eval refuses.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        result = page.evaluate(expression, arg)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(20)
