"""Failed sign-ins counted per account and per address, with Flask-Limiter's storage: a guesser is locked out.

Only failures count, in a moving window; while an account or an address has used up its
failures, every attempt is refused before the password is even checked, the right one too.
A success clears the account's count (not the address's: one good account must not buy an
address more guesses at others). The counts live in memory by default (one `serve`
process); `rate_limit_storage_url` (e.g. `redis://host:6379`) shares them between processes.
If that shared store is unreachable, sign-in goes on unthrottled and the failure is logged:
a call-taker must be able to sign in to take 112 calls.

An account locked by someone else's guesses is unlocked by an admin (`siaga112 user unlock`,
or the users page), which writes `login.unlocked` to the audit log. That entry is the unlock:
the counts live in the serving process's memory, out of the command's reach, so the check
consults the latest unlock and forgets the account's failures that came before it. Failures
after the unlock count afresh and lock again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerMinute

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lock:
    """Why sign-in is refused for now, and for how long."""

    scope: str  # "account" or "address"
    retry_after_s: int


class LoginThrottle:
    def __init__(self, limiter: Limiter, *, per_account: int, per_address: int, minutes: int) -> None:
        self.limiter = limiter
        self.account_limit = RateLimitItemPerMinute(max(1, per_account), max(1, minutes))
        self.address_limit = RateLimitItemPerMinute(max(1, per_address), max(1, minutes))

    def _checks(self, username: str, address: str | None):
        yield "account", self.account_limit, ("login-account", username.strip().lower())
        yield "address", self.address_limit, ("login-address", address or "-")

    def locked(self, username: str, address: str | None,
               unlocked_at: Callable[[], datetime | None] | None = None) -> Lock | None:
        """The lock that refuses this attempt, or None when it may be checked.

        `unlocked_at()` (asked only when the account is locked) gives the time of the account's
        latest unlock: a lock whose first failure came before it is lifted here and now.
        """
        try:
            for scope, limit, keys in self._checks(username, address):
                if not self.limiter.limiter.test(limit, *keys):
                    reset_at, _remaining = self.limiter.limiter.get_window_stats(limit, *keys)
                    if scope == "account" and unlocked_at is not None:
                        first_failure = reset_at - limit.get_expiry()
                        unlocked = unlocked_at()
                        if unlocked is not None and unlocked.timestamp() >= first_failure:
                            self.limiter.limiter.clear(limit, *keys)
                            log.info("sign-in of %s unlocked by an admin", username)
                            continue
                    return Lock(scope, max(1, int(reset_at - time.time()) + 1))
        except Exception:  # noqa: BLE001 - a shared store that is away must not keep people out
            log.exception("login throttle store unreachable; sign-in is not throttled")
        return None

    def failed(self, username: str, address: str | None) -> Lock | None:
        """Count a wrong password; the lock it caused, if this failure used up the last one."""
        try:
            for _scope, limit, keys in self._checks(username, address):
                self.limiter.limiter.hit(limit, *keys)
        except Exception:  # noqa: BLE001
            log.exception("login throttle store unreachable; a failure went uncounted")
            return None
        return self.locked(username, address)

    def succeeded(self, username: str) -> None:
        try:
            self.limiter.limiter.clear(self.account_limit, "login-account", username.strip().lower())
        except Exception:  # noqa: BLE001
            log.exception("login throttle store unreachable")


def latest_unlock(session, username: str) -> datetime | None:
    """When an admin last unlocked this account's sign-in (the audit log's `login.unlocked`)."""
    from sqlalchemy import func, select

    from siaga112.models import AuditEntry

    return session.scalar(select(func.max(AuditEntry.at)).where(
        AuditEntry.action == UNLOCKED, func.lower(AuditEntry.target) == f"user:{username.strip().lower()}"))


UNLOCKED = "login.unlocked"


def record_unlock(session, user, actor: str, *, actor_id: int | None = None, ip: str | None = None,
                  via: str) -> None:
    """Unlock an account's sign-in for every process: the audit entry the check consults."""
    from siaga112 import audit

    audit.record(session, actor, UNLOCKED, f"user:{user.username}", detail={"via": via}, actor_id=actor_id, ip=ip)


def init_app(app: Flask, *, storage_url: str, per_account: int, per_address: int, minutes: int) -> LoginThrottle:
    # No default limits: nothing but sign-in is throttled (an SOS or an alarm never is).
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_url or "memory://",
                      strategy="moving-window", key_prefix="siaga112", default_limits=[])
    throttle = LoginThrottle(limiter, per_account=per_account, per_address=per_address, minutes=minutes)
    app.extensions["siaga112.login_throttle"] = throttle
    return throttle


def login_throttle() -> LoginThrottle:
    return current_app.extensions["siaga112.login_throttle"]
