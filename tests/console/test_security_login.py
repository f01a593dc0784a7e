"""Signing in under attack: guessing is throttled per account and per address, `next` stays on the
site, the cookie carries no password material and is Secure over HTTPS, old sessions end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agent_console.pages import safe_next
from siaga112.models import AuditEntry, User
from tests.console import factories


def _app(runtime, **settings):
    from center.web import create_app

    for name, value in settings.items():
        setattr(runtime.settings, name, value)
    return create_app(runtime, {"TESTING": True})


def _try(client, username: str, password: str, address: str = "198.51.100.7", **extra):
    token = factories.csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra},
                       environ_base={"REMOTE_ADDR": address})


def _actions(database, username: str) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(AuditEntry.action).where(AuditEntry.actor == username)
                                    .order_by(AuditEntry.id)))


def test_sixty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused_too(runtime, database, make_user):
    app = _app(runtime, login_failures_per_account=10, login_lock_minutes=15)
    username, password = make_user("calltaker")
    client = app.test_client()
    statuses = [_try(client, username, f"guess {n}").status_code for n in range(60)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}

    refused = _try(client, username, password)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Terlalu banyak" in refused.get_data(as_text=True)
    actions = _actions(database, username)
    assert actions.count("login.failed") == 10 and actions.count("login.locked") == 1
    assert actions.count("login.throttled") == 51 and "login" not in actions


def test_the_lock_is_per_account_other_people_sign_in_from_the_same_desk(runtime, make_user):
    app = _app(runtime, login_failures_per_account=3)
    victim, _ = make_user("calltaker")
    colleague, password = make_user("calltaker")
    client = app.test_client()
    for n in range(3):
        _try(client, victim, f"guess {n}")
    assert _try(client, victim, "anything").status_code == 429
    assert _try(app.test_client(), colleague, password).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_and_another_address_is_not(runtime, make_user, database):
    app = _app(runtime, login_failures_per_account=100, login_failures_per_address=5)
    username, password = make_user("dispatcher")
    client = app.test_client()
    for n in range(5):
        assert _try(client, f"nobody-{n}", "guess", address="203.0.113.9").status_code == 401
    assert _try(client, username, password, address="203.0.113.9").status_code == 429
    assert _try(app.test_client(), username, password, address="203.0.113.10").status_code == 302
    with database.session() as session:
        lock = session.scalar(select(AuditEntry).where(AuditEntry.action == "login.locked"))
        assert (lock.actor, lock.ip, lock.detail["by"]) == ("nobody-4", "203.0.113.9", "address")


def test_a_success_clears_the_accounts_count_of_failures(runtime, make_user):
    app = _app(runtime, login_failures_per_account=3)
    username, password = make_user("calltaker")
    for _round in range(3):
        client = app.test_client()
        _try(client, username, "typo one")
        _try(client, username, "typo two")
        assert _try(client, username, password).status_code == 302


def test_the_counts_can_live_in_a_named_store(runtime, make_user):
    app = _app(runtime, login_failures_per_account=2, rate_limit_storage_url="memory://")
    username, _ = make_user("calltaker")
    client = app.test_client()
    _try(client, username, "a")
    _try(client, username, "b")
    assert _try(client, username, "c").status_code == 429


@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/x", "//evil", "///evil", "/\\evil.example", "\\\\evil",
    "https://evil.example/", "javascript:alert(1)", "http:/evil", " /x", "/x\x00", "evil.example", "",
])
def test_next_never_leaves_the_site(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/incidents?status=new", "/calls/12#map", "/supervisor/?period=24h",
                                    "/%2F%2Fevil.example"])
def test_next_keeps_a_path_on_this_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\r\n/x", "//evil", "/\\evil"])
def test_login_with_a_hostile_next_goes_to_the_queue_without_an_error(client, make_user, target):
    username, password = make_user("calltaker")
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = _try(client, username, password, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def _cookie(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_the_session_cookie_carries_no_password_material(app, client, make_user, database):
    username, password = make_user("calltaker")
    factories.client_login(client, username, password)
    content = _cookie(app, client)
    with database.session() as session:
        password_hash = session.scalar(select(User.password_hash).where(User.username == username))
    assert "pw" not in content
    assert not any(isinstance(v, str) and len(v) >= 8 and v in password_hash for v in content.values())
    assert set(content) <= {"user_id", "epoch", "since", "_permanent", "csrf_token", "lang", "_flashes"}


@pytest.mark.parametrize("changes, secure", [
    ({}, False),
    ({"public_base_url": "https://112.example.go.id"}, True),
    ({"session_cookie_secure": True}, True),
    ({"public_base_url": "http://10.0.0.5:8112"}, False),
])
def test_the_session_cookie_is_secure_when_the_console_is_served_over_https(runtime, make_user, changes, secure):
    app = _app(runtime, **changes)
    username, password = make_user("calltaker")
    client = app.test_client()
    response = _try(client, username, password)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_password_reset_by_an_admin_ends_that_persons_sessions(app, make_user, database):
    from tests.support.console_client import csrf_token, sign_in

    username, password = make_user("calltaker")
    desk = app.test_client()
    factories.client_login(desk, username, password)
    admin = app.test_client()
    sign_in(admin, database, "admin")
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        user_id, epoch = user.id, user.session_epoch
    response = admin.post(f"/supervisor/admin/users/{user_id}/password",
                          data={"password": "a brand new password", "csrf_token": csrf_token(admin)})
    assert response.status_code == 302
    with database.session() as session:
        assert session.get(User, user_id).session_epoch == epoch + 1
    assert desk.get("/api/v1/calls").status_code == 401
    assert desk.get("/").status_code == 302


def test_signing_out_on_one_desk_ends_the_session_on_every_other(app, make_user):
    username, password = make_user("calltaker")
    first, second = app.test_client(), app.test_client()
    token = factories.client_login(first, username, password)
    factories.client_login(second, username, password)
    first.post("/logout", data={"csrf_token": token})
    assert second.get("/api/v1/calls").status_code == 401


# --- an admin unlocks an account that others' guesses locked -----------------------------------------

def _lock_out(app, username: str, failures: int = 3) -> None:
    guesser = app.test_client()
    for n in range(failures):
        assert _try(guesser, username, f"guess {n}", address="203.0.113.66").status_code == 401
    assert _try(guesser, username, "guess again", address="203.0.113.66").status_code == 429


def test_siaga112_user_unlock_lets_the_owner_sign_in_at_once_in_the_running_console(runtime, database, make_user,
                                                                                   cli_runner):
    app = _app(runtime, login_failures_per_account=3, login_lock_minutes=15)
    username, password = make_user("calltaker")
    _lock_out(app, username)
    owner = app.test_client()
    assert _try(owner, username, password).status_code == 429  # locked by someone else's guesses

    # The command runs in its own process: it cannot reach the console's counts, only the database.
    result = cli_runner.invoke(["user", "unlock", username.upper()])
    assert result.exit_code == 0, result.output
    assert f"user {username} may sign in again" in result.output
    assert _try(owner, username, password).status_code == 302

    with database.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "login.unlocked"))
        assert entry.target == f"user:{username}" and entry.actor.startswith("cli:")
        assert entry.detail == {"via": "cli"}


def test_after_an_unlock_new_wrong_passwords_lock_the_account_again(runtime, make_user, cli_runner):
    app = _app(runtime, login_failures_per_account=3)
    username, password = make_user("calltaker")
    _lock_out(app, username)
    assert cli_runner.invoke(["user", "unlock", username]).exit_code == 0
    _lock_out(app, username)  # the guesser goes on: three more failures lock it again
    assert _try(app.test_client(), username, password).status_code == 429


def test_unlocking_an_unknown_user_says_so(cli_runner):
    result = cli_runner.invoke(["user", "unlock", "nobody"])
    assert result.exit_code != 0 and "no user 'nobody'" in result.output


def test_an_admin_unlocks_an_account_from_the_users_page_and_it_is_audited(runtime, database, make_user):
    from tests.support.console_client import csrf_token, sign_in

    app = _app(runtime, login_failures_per_account=3)
    username, password = make_user("dispatcher")
    _lock_out(app, username)
    admin = app.test_client()
    sign_in(admin, database, "admin", username="root")
    with database.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    page = admin.get("/supervisor/admin/users").get_data(as_text=True)
    assert f'/supervisor/admin/users/{user_id}/unlock' in page
    response = admin.post(f"/supervisor/admin/users/{user_id}/unlock",
                          data={"csrf_token": csrf_token(admin, "/supervisor/admin/users")})
    assert response.status_code == 302
    assert _try(app.test_client(), username, password).status_code == 302
    with database.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "login.unlocked"))
        assert (entry.actor, entry.target, entry.detail) == ("root", f"user:{username}", {"via": "console"})


def test_a_calltaker_cannot_unlock_accounts(client, database, make_user):
    from tests.support.console_client import sign_in

    sign_in(client, database, "calltaker")
    username, _ = make_user("dispatcher")
    with database.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    response = client.post(f"/supervisor/admin/users/{user_id}/unlock")
    assert response.status_code in (400, 403)
    with database.session() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "login.unlocked")) is None
