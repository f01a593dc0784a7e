"""The language walk drives the console in Chromium too: the console's browser fixtures."""

from tests.console.conftest import chromium, console, logged_in_page, new_page  # noqa: F401
