"""The web application factory: console pages and the JSON API share one Flask app."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, current_app, g, jsonify, request, session as cookie_session
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from siaga112 import auth, events, i18n, idempotency, login_throttle, web_headers, web_input
from siaga112.bounded import call_within
from siaga112.errors import ApiError
from siaga112.journal import database_away
from siaga112.models import User
from siaga112.runtime import Runtime

log = logging.getLogger(__name__)
csrf = CSRFProtect()

MAX_BODY_BYTES = 1024 * 1024  # no client of ours sends more; a larger body is refused, not read


def make_app(runtime: Runtime | None = None, test_config: dict | None = None, blueprints=(),
             health_checks: dict | None = None) -> Flask:
    """Build the web app around a runtime (settings, database, clients) and the blueprints given.

    The frame knows no domain: `center.web.create_app` names the blueprints and the health checks
    of the whole centre, in one place above the frame and the domains.
    """
    runtime = runtime or Runtime.from_settings()
    settings = runtime.settings
    app = Flask("agent_console", static_folder=None)
    app.config.update(
        SECRET_KEY=runtime.secret_key(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=runtime.settings.session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure or settings.public_base_url.lower().startswith("https://"),
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        SSE_MAX_STREAMS=settings.web_event_streams,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["siaga112"] = runtime
    app.extensions["siaga112.health_checks"] = dict(health_checks or {})
    app.extensions["siaga112.token_memory"] = auth.token_memory(runtime)
    csrf.init_app(app)
    i18n.init_app(app, language=settings.language, zone=settings.timezone)
    web_input.init_app(app)
    web_headers.init_app(app, tile_url=settings.tile_url, public_base_url=settings.public_base_url)
    login_throttle.init_app(app, storage_url=settings.rate_limit_storage_url,
                            per_account=settings.login_failures_per_account,
                            per_address=settings.login_failures_per_address, minutes=settings.login_lock_minutes)

    from siaga112.health import bp as health

    for blueprint in (health, *blueprints):
        app.register_blueprint(blueprint)

    app.before_request(_load_principal)
    app.before_request(_check_csrf)
    app.before_request(idempotency.begin)
    app.after_request(idempotency.finish)
    app.teardown_request(idempotency.abandon)
    app.teardown_request(_close_session)
    _register_error_handlers(app)
    return app


def runtime() -> Runtime:
    return current_app.extensions["siaga112"]


def db():
    """The request's database session (closed, and rolled back if uncommitted, at teardown)."""
    if "db" not in g:
        g.db = runtime().database.sessionmaker()
    return g.db


def _close_session(_exc=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _load_principal() -> None:
    g.principal = None
    token = auth.bearer_token()
    if token:
        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if getattr(view, "answers_without_database", False):
            g.principal = _token_principal_within_bound(token)
            return
        g.principal = auth.token_principal(db(), token)
        db().commit()
        current_app.extensions["siaga112.token_memory"].note(token, g.principal)
        return
    user_id = cookie_session.get("user_id")
    if user_id is not None:
        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if request.method == "GET" and getattr(view, "follows_events", False):
            # Before anything the page shows is read, the signed-in user's own state included.
            g.events_after = events.latest_id(db())
        user = db().get(User, user_id)
        if user is not None and console_session_valid(user):
            g.principal = auth.user_principal(user)
            g.user = user
        else:
            cookie_session.clear()


def follows_events(view):
    """Mark a page whose script follows the console's event stream.

    The page carries where its stream is to start (`g.events_after`, the outbox's newest id),
    read before anything else the request reads. A page that took the newest id only when its
    stream connected, after its content was read, missed every event committed in between: a
    floor rendered with a call-taker "available" that stayed so until its next full refresh,
    though she had answered a call in that moment. Replayed from before the page's content,
    such an event is heard, and one the page already shows is merely heard twice.
    """
    view.follows_events = True
    return view


def answers_without_database(view):
    """Mark a view that must answer while the database is away (the SOS, kept in the alarm
    journal): its token is read within `alarm_db_timeout_seconds`, and trusted as last read
    when the database does not answer (`_token_principal_within_bound`)."""
    view.answers_without_database = True
    return view


def _token_principal_within_bound(token: str) -> auth.Principal | None:
    """The token's principal, read from the database within `alarm_db_timeout_seconds`.

    The citizen app's SOS must be taken while the database is away, and its token is the first
    thing read: a token this process has read before (on any request) is then trusted as it was
    then (`auth.TokenMemory`, which also holds the book of live tokens the scheduler reads every
    few minutes), and `g.database_away` tells the view not to wait on the database again. A token
    unknown to both, with the database away, is answered 503 and resent. Other views
    read the token on the request's own session, as they read everything else.
    """
    memory: auth.TokenMemory = current_app.extensions["siaga112.token_memory"]
    rt = runtime()

    def look_up() -> auth.Principal | None:
        with rt.database.session() as session:
            return auth.token_principal(session, token)

    try:
        principal = call_within(look_up, rt.settings.alarm_db_timeout_seconds, name="token-look-up")
    except Exception as error:
        if not database_away(error):
            raise
        g.database_away = True
        principal = memory.recall(token)
        if principal is None:
            raise ApiError(503, "database_unavailable",
                           "The database is not answering; send the request again shortly.") from None
        log.warning("database away (%s): token %s taken as last read", error.__class__.__name__, principal.name)
        return principal
    memory.note(token, principal)
    return principal


def console_session_valid(user: User) -> bool:
    """A console session ends at the end of the shift, on sign-out, or when the password changes.

    The cookie holds no password material: sign-out and a new password raise the account's
    `session_epoch`, and a cookie signed under an older epoch is refused.
    """
    return sign_in_holds(user.active, user.session_epoch, cookie_session.get("epoch"), cookie_session.get("since"),
                         shift_seconds=runtime().settings.session_minutes * 60)


def sign_in_holds(active: bool, account_epoch: int, cookie_epoch, signed_in_at, *, shift_seconds: float,
                  now: float | None = None) -> bool:
    """`console_session_valid`'s rule on plain values, for checks made outside the request (the
    console's event streams check every open sign-in at once)."""
    if not isinstance(signed_in_at, (int, float)):
        return False
    now = time.time() if now is None else now
    return bool(active) and cookie_epoch == account_epoch and 0 <= now - signed_in_at <= shift_seconds


def machine_endpoint(view):
    """Mark a view that authenticates by signature (webhooks), so no CSRF token is asked of it."""
    view.machine_endpoint = True
    return csrf.exempt(view)


def _check_csrf() -> None:
    # Cookie-carrying writes must carry the CSRF token. Bearer-token clients, signed webhooks
    # and API requests with no session cookie have no ambient credential a browser could be
    # tricked into sending, so they are exempt (and get a plain 401 if unauthenticated).
    # Console forms, the login form among them, always need the token.
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    if auth.bearer_token():
        return
    if request.path.startswith("/api/") and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is not None and getattr(view, "machine_endpoint", False):
        return
    csrf.protect()


JSON_PATHS = ("/api/", "/open311/", "/twilio/", "/healthz", "/metrics")  # whose clients read JSON errors


def _wants_json() -> bool:
    return request.path.startswith(JSON_PATHS)


# A page for a person (not an API client) that went wrong: the catalogue's words for its status.
PAGE_ERRORS = {400: "error.bad_request", 401: "error.unauthorized", 403: "error.forbidden",
               404: "error.not_found_page", 405: "error.method_not_allowed", 413: "error.too_large",
               429: "error.too_many",
               500: "error.internal"}
API_ERRORS = {404: ("There is nothing at this address.", "error.not_found"),
              405: ("This address does not accept that method.", "error.method_not_allowed"),
              413: ("The request body is too large.", "error.too_large")}


# What the web server refuses before the app sees a request (`siaga112.web_server`), as the API says it.
SERVER_ERRORS = {413: ("too_large", "The request body is too large.", "error.too_large"),
                 400: ("bad_request", "The request's framing (Content-Length, Transfer-Encoding) is malformed.", None),
                 431: ("headers_too_large", "The request's headers are too large.", None),
                 501: ("not_implemented", "The request asks for something this server does not do.", None)}


def server_error_body(app: Flask):
    """`WebServer`'s `error_body`: the app's JSON error for a request the server refused itself,
    for paths whose clients read JSON (None elsewhere: a person's browser gets the server's text)."""

    def make(status: int, path: str, headers: dict) -> tuple[str, bytes] | None:
        if not path.startswith(JSON_PATHS) or status not in SERVER_ERRORS:
            return None
        code, english, key = SERVER_ERRORS[status]
        wanted = {name.replace("_", "-").title(): value for name, value in headers.items()
                  if name in ("ACCEPT_LANGUAGE", "COOKIE")}
        with app.test_request_context(path, headers=wanted):
            response, _status = ApiError(status, code, english, words=i18n.message(key) if key else None).response()
            return response.content_type, response.get_data()

    return make


def _error_page(status: int, key: str):
    """The page for a failed request in the viewer's language: the console's page when it set one
    (`siaga112.error_page`, a function(status, text)), else the sentence alone."""
    text = i18n.translate(key)
    page = current_app.extensions.get("siaga112.error_page")
    if page is not None:
        try:
            return page(status, text)
        except Exception:  # noqa: BLE001 - an error page must never fail in turn
            log.exception("the error page could not be drawn")
    return text, status, {"Content-Type": "text/plain; charset=utf-8"}


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error.response()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if _wants_json():
            return ApiError(400, "csrf", "The form is missing its security token; reload the page.").response()
        return _error_page(400, "error.csrf")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _wants_json():
            if error.code is None or error.code < 400:
                return error
            return _error_page(error.code, PAGE_ERRORS.get(error.code, "error.page_title"))
        slug = (error.name or "error").lower().replace(" ", "_")
        english, key = API_ERRORS.get(error.code, (error.description or "Error.", None))
        # A body over the limit reaches here only under a test client: `serve`'s waitress refuses it
        # (413) before reading it and closes the connection, so no unread body is taken for the next;
        # its answer is this same JSON error all the same (`server_error_body`).
        return ApiError(error.code or 500, slug, english, words=i18n.message(key) if key else None).response()

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    @app.errorhandler(RecursionError)
    def out_of_range(error: Exception):
        # The last line of defence behind web_input's checks: a value the database (or Python)
        # cannot hold is the client's mistake, and the transaction is rolled back at teardown.
        log.warning("refused out-of-range input on %s %s: %s", request.method, request.path,
                    str(error).splitlines()[0][:200])
        if _wants_json():
            return ApiError(400, "out_of_range", "A number or value in the request is out of range.").response()
        return _error_page(400, "error.bad_request")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if _wants_json():
            return ApiError(500, "internal", "Something went wrong on our side; it has been logged.").response()
        return _error_page(500, "error.internal")


def json_body() -> dict:
    """The request's JSON object, or a 400 that says what is wrong with it (see web_input)."""
    if not request.is_json:
        raise ApiError(400, "invalid_json", "The body must be a JSON object (Content-Type: application/json).")
    try:
        data = request.get_json(silent=False)
    except HTTPException:
        try:
            web_input.loads_limited(request.get_data(cache=True))
        except web_input.JsonRefused as refused:
            raise ApiError(400, refused.code, str(refused)) from None
        except ValueError:
            pass
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


__all__ = ["make_app", "db", "runtime", "json_body", "machine_endpoint", "answers_without_database", "csrf", "jsonify", "console_session_valid"]
