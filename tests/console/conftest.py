"""Console fixtures: a live server on the test's runtime, one Chromium per module, logged-in pages."""

from __future__ import annotations

import pytest

from tests.console import browser


@pytest.fixture
def console(runtime):
    """The console and API served on a loopback port for this test (heartbeats every second)."""
    with browser.LiveServer(runtime, {"SSE_HEARTBEAT_SECONDS": 1.0}) as server:
        yield server


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module, to keep browser tests quick."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = browser.launch_browser(playwright)
        yield instance
        instance.close()


@pytest.fixture
def new_page(chromium):
    """new_page() -> a page in a fresh browser context (its own cookies) at 1366x768.

    A script error on any page fails the test: a console whose script died shows stale data. So
    does anything the Content-Security-Policy refuses (an inline script or style attribute).
    """
    contexts = []
    errors: list[str] = []

    def make(**options):
        context = chromium.new_context(viewport=browser.VIEWPORT, **options)
        context.set_default_timeout(browser.WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, "script errors in the console:\n" + "\n".join(errors)


@pytest.fixture
def logged_in_page(console, database, new_page):
    """logged_in_page(role, username=None, phone_interface=None, language=None) -> a signed-in page."""

    def make(role: str, *, username: str | None = None, phone_interface: str | None = None,
             language: str | None = None):
        username = browser.create_user(database, role, username=username, phone_interface=phone_interface,
                                       language=language)
        page = new_page()
        browser.log_in(page, console, username)
        return page

    return make
