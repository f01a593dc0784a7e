"""Signing a Flask test client in as a console user, and reading the CSRF token a page carries."""

from __future__ import annotations

import re
import time
import uuid

from siaga112 import auth

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def put_console_session(client, user) -> None:
    """Give the client the session cookie the sign-in form would have given `user`."""
    with client.session_transaction() as cookie:
        cookie["user_id"] = user.id
        cookie["epoch"] = user.session_epoch or 0
        cookie["since"] = time.time()


def sign_in(client, database, role: str, *, username: str | None = None, phone_interface: str | None = None):
    """Create a user of `role` and give the client their session cookie; returns (id, username)."""
    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    with database.session() as session:
        user = auth.create_user(session, username, role, PASSWORD, phone_interface=phone_interface)
        put_console_session(client, user)
        user_id = user.id
    return user_id, username


def csrf_token(client, path: str = "/supervisor/") -> str:
    """The token of the client's session, as the page at `path` embeds it."""
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)
