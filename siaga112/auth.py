"""Who may do what: console roles, machine tokens with scopes, one check for both."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from siaga112.db import utcnow
from siaga112.errors import ApiError
from siaga112.i18n import Problem
from siaga112.models import ApiToken, User
from siaga112.models.people import ROLES
from siaga112.storage import read_private_copy, write_private_copy

log = logging.getLogger(__name__)

# `alarms:write` is the citizen app's: it posts SOS and reads back only the alarms it posted.
# Reading every alarm (other reporters' names and positions, banks' panic alarms) takes
# `alarms:read`; acknowledging, closing and texting back takes `alarms:handle`.
TOKEN_SCOPES = ("calls:read", "calls:write", "incidents:write", "alarms:write", "alarms:read", "alarms:handle",
                "units:write", "aml:write", "admin")

# What each console role may do. Machine tokens carry the contract's scopes; people get these.
# `admin` implies every scope. Server-side checks use these, never hidden buttons.
_CALLTAKER = {"calls:read", "calls:write", "incidents:read", "incidents:write", "alarms:read", "alarms:write",
              "alarms:handle"}
_DISPATCHER = _CALLTAKER | {"units:read", "units:write", "dispatch"}
_SUPERVISOR = _DISPATCHER | {
    "recordings:listen", "audit:read", "reporters:manage", "monitor", "floor:read", "exports",
}
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "calltaker": frozenset(_CALLTAKER | {"units:read"}),
    "dispatcher": frozenset(_DISPATCHER),
    "supervisor": frozenset(_SUPERVISOR),
    "admin": frozenset(_SUPERVISOR | {"admin"}),
}
# Reading is implied by writing for machine clients (a unit's app that writes its position may read units),
# except alarms: the app that posts SOS must not read everyone's.
_IMPLIED = {
    "calls:write": {"calls:read"},
    "incidents:write": {"incidents:read"},
    "units:write": {"units:read"},
}


@dataclass
class Principal:
    """The person or machine behind a request."""

    name: str
    kind: str  # "user" or "token"
    scopes: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    role: str | None = None
    token_id: int | None = None

    def can(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, username: str, role: str, password: str, *,
                display_name: str | None = None, phone_interface: str | None = None) -> User:
    """Make a console account; the password is kept only as a salted hash."""
    if role not in ROLES:
        raise Problem(f"role must be one of {', '.join(ROLES)}", "sv.admin.bad_role")
    if len(password) < 8:
        raise Problem("a password needs at least 8 characters", "sv.admin.short_password")
    if session.scalar(select(User).where(User.username == username)):
        raise Problem(f"user {username!r} exists already", "sv.admin.user_exists", user=username)
    user = User(username=username, role=role, password_hash=hash_password(password),
                display_name=display_name or username, phone_interface=phone_interface or None)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, name: str, scopes: list[str]) -> str:
    """Issue a bearer token; the plain value is returned once and never stored."""
    unknown = [s for s in scopes if s not in TOKEN_SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(TOKEN_SCOPES)}")
    token = "s112_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_token_hash(token), scopes=",".join(sorted(set(scopes)))))
    session.flush()
    return token


def token_principal(session: Session, token: str) -> Principal | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked or not hmac.compare_digest(row.token_hash, _token_hash(token)):
        return None
    row.last_used_at = utcnow()
    return _principal_of(row)


def _principal_of(row: ApiToken) -> Principal:
    scopes = set(row.scopes.split(","))
    for scope in list(scopes):
        scopes |= _IMPLIED.get(scope, set())
    return Principal(name=f"token:{row.name}", kind="token", scopes=frozenset(scopes), token_id=row.id)


class TokenMemory:
    """The principals of tokens this process read from the database, by the token's hash, for the
    minutes the database is away (an SOS must still be taken then).

    Only consulted when the database does not answer; every answered look-up refreshes or, for
    a revoked or unknown token, forgets. The whole book of live tokens is read as well
    (`read_book`: when the process starts and every few minutes after, `read_token_book`), so
    a token never presented to this process, such as a citizen app's whose first SOS comes in
    an outage, is known too; each read is copied (hashes only, owner-only) to `copy_path`, from
    which a process started while the database is away knows them. A token revoked elsewhere
    while the database is away keeps working here until it is back; one read longer than
    `max_age_s` ago is not trusted.
    """

    # More tokens than this are not all kept: the book is for machine clients, not for people.
    BOOK_LIMIT = 50_000

    def __init__(self, max_age_s: float = 12 * 3600, copy_path: str | os.PathLike | None = None) -> None:
        self.max_age_s = max_age_s
        self.copy_path = copy_path
        self._known: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def read_book(self, session: Session) -> int:
        """Know every live token as the database has it now (revoked ones forgotten); returns how many."""
        rows = session.scalars(select(ApiToken).where(ApiToken.revoked.is_(False)).order_by(ApiToken.id.desc())
                               .limit(self.BOOK_LIMIT)).all()
        book = {row.token_hash: _principal_of(row) for row in rows}
        self._take(book, time.monotonic())
        if self.copy_path is not None:
            try:
                write_private_copy(self.copy_path, [
                    {"hash": key, "name": p.name, "scopes": sorted(p.scopes), "token_id": p.token_id}
                    for key, p in book.items()])
            except OSError as error:  # the copy only helps a start without the database
                log.warning("the token book could not be copied to %s: %s", self.copy_path, error)
        return len(book)

    def load_copy(self) -> int:
        """The book of the last read, from the local copy (if younger than `max_age_s`); how many."""
        try:
            copy = None if self.copy_path is None else read_private_copy(self.copy_path, self.max_age_s)
            if copy is None:
                return 0
            book = {entry["hash"]: Principal(name=entry["name"], kind="token", scopes=frozenset(entry["scopes"]),
                                             token_id=entry["token_id"]) for entry in copy[0]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("the token book copy at %s cannot be read: %s", self.copy_path, error)
            return 0
        self._take(book, time.monotonic() - copy[1])
        return len(book)

    def _take(self, book: dict[str, Principal], read_at: float) -> None:
        with self._lock:
            self._known = {key: (principal, read_at) for key, principal in book.items()}

    def note(self, token: str, principal: Principal | None) -> None:
        key = _token_hash(token)
        with self._lock:
            if principal is None:
                self._known.pop(key, None)
            else:
                if len(self._known) > self.BOOK_LIMIT:
                    self._known.clear()
                self._known[key] = (principal, time.monotonic())

    def recall(self, token: str) -> Principal | None:
        with self._lock:
            known = self._known.get(_token_hash(token))
        if known is None or time.monotonic() - known[1] > self.max_age_s:
            return None
        return known[0]


TOKEN_MEMORY_CLIENT = "token_memory"
TOKEN_BOOK_MINUTES = 5  # how often the scheduler reads the book again


TOKEN_BOOK_COPY = "token-book.json"  # in journal_dir


def token_memory(runtime) -> TokenMemory:
    """The process's one TokenMemory: the web app consults it, the scheduler keeps its book.
    It starts from the copy of the last read, so a start without the database knows the tokens."""

    def make(settings) -> TokenMemory:
        memory = TokenMemory(copy_path=Path(settings.journal_dir) / TOKEN_BOOK_COPY)
        memory.load_copy()
        return memory

    return runtime.client(TOKEN_MEMORY_CLIENT, make)


def read_token_book(runtime) -> None:
    """Scheduled (at start, then every TOKEN_BOOK_MINUTES): every live token known for an outage."""
    with runtime.database.session() as session:
        token_memory(runtime).read_book(session)


def user_principal(user: User) -> Principal:
    return Principal(name=user.username, kind="user", scopes=ROLE_SCOPES[user.role],
                     user_id=user.id, role=user.role)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def require(scope: str, *alternatives: str):
    """Refuse the view unless the caller (token or console user) holds `scope` (or one of the
    alternatives, for views that narrow what a lesser scope sees): 401, then 403."""
    scopes = (scope, *alternatives)

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            principal: Principal | None = g.get("principal")
            if principal is None:
                raise ApiError(401, "unauthenticated", "Sign in, or send a bearer token.")
            if not any(principal.can(s) for s in scopes):
                raise ApiError(403, "forbidden", "Your role or token does not allow this.")
            return view(*args, **kwargs)

        wrapped.required_scope = scope
        return wrapped

    return decorate
