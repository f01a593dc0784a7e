"""Console sessions end: at sign-out (copies of the cookie too), at the end of the shift, on a new password."""

from __future__ import annotations

import time

from sqlalchemy import select

from siaga112 import auth
from siaga112.models import User
from tests.console.factories import client_login


def _copy_cookie(source, target) -> None:
    with source.session_transaction() as original, target.session_transaction() as copy:
        copy.update(original)


def test_signing_out_ends_a_copied_session_cookie_too(app, make_user):
    username, password = make_user("calltaker")
    browser, thief = app.test_client(), app.test_client()
    token = client_login(browser, username, password)
    _copy_cookie(browser, thief)
    assert thief.get("/api/v1/calls").status_code == 200

    browser.post("/logout", headers={"X-CSRFToken": token})

    assert thief.get("/api/v1/calls").status_code == 401


def test_a_session_ends_when_the_shift_is_over(app, make_user, runtime):
    username, password = make_user("calltaker")
    client = app.test_client()
    client_login(client, username, password)
    with client.session_transaction() as cookie:
        cookie["since"] = time.time() - runtime.settings.session_minutes * 60 - 1

    assert client.get("/api/v1/calls").status_code == 401


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(app, make_user, database):
    username, password = make_user("calltaker")
    client = app.test_client()
    client_login(client, username, password)
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        user.password_hash = auth.hash_password("another long password")

    assert client.get("/api/v1/calls").status_code == 401
