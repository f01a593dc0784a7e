"""Signing in and out, and choosing the console's language."""

from __future__ import annotations

import time

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select

from agent_console.i18n import LANGUAGES, translate
from agent_console.pages import safe_next
from siaga112 import audit, auth, events
from siaga112.db import iso, utcnow
from siaga112.models import User
from siaga112.login_throttle import latest_unlock, login_throttle
from siaga112.web import db, runtime

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if g.get("user") is not None:
            return redirect(url_for("console.queue.index"))
        return render_template("auth/login.html", next=safe_next(request.args.get("next")))
    username = request.form.get("username", "").strip()[:120]
    password = request.form.get("password", "")
    address = request.remote_addr
    throttle = login_throttle()
    lock = throttle.locked(username, address, unlocked_at=lambda: latest_unlock(db(), username))
    if lock is not None:
        # Refused before the password is looked at: a guesser learns nothing, the right one waits too.
        audit.record(db(), username or "-", "login.throttled", detail={"by": lock.scope}, ip=address)
        db().commit()
        return _refused("login.locked", 429, username, lock.retry_after_s)
    user = db().scalar(select(User).where(User.username == username)) if username else None
    if user is None or not user.active or not auth.check_password(user.password_hash, password):
        audit.record(db(), username or "-", "login.failed", ip=address)
        lock = throttle.failed(username, address)
        if lock is not None:
            audit.record(db(), username or "-", "login.locked",
                         detail={"by": lock.scope, "minutes": runtime().settings.login_lock_minutes}, ip=address)
        db().commit()
        return _refused("login.failed", 401, username)
    throttle.succeeded(username)
    session.clear()  # a fresh session on sign-in: nothing from before carries over
    session.permanent = True  # ends after PERMANENT_SESSION_LIFETIME (session_minutes)
    session["user_id"] = user.id
    session["epoch"] = user.session_epoch  # sign-out and a new password end every session of the account
    session["since"] = time.time()  # the shift's session ends session_minutes after sign-in
    user.status, user.status_at = "available", utcnow()
    events.publish(db(), "agent.status", {"username": user.username, "status": user.status, "status_at": iso(user.status_at)})
    audit.record(db(), user.username, "login", actor_id=user.id, ip=request.remote_addr)
    db().commit()
    return redirect(safe_next(request.form.get("next")) or url_for("console.queue.index"))


def _refused(message: str, status: int, username: str, retry_after_s: int | None = None):
    flash(translate(message), "error")
    response = make_response(render_template("auth/login.html", next=safe_next(request.form.get("next")),
                                             username=username), status)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


@bp.post("/logout")
def logout():
    user = g.get("user")
    lang = session.get("lang")
    if user is not None:
        user.status, user.status_at = "offline", utcnow()
        events.publish(db(), "agent.status", {"username": user.username, "status": "offline", "status_at": iso(user.status_at)})
        user.end_sessions()
        audit.record(db(), user.username, "logout", actor_id=user.id, ip=request.remote_addr)
        db().commit()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(translate("login.signed_out", lang), "info")
    return redirect(url_for("console.auth.login"))


@bp.post("/language")
def set_language():
    """Switch between Bahasa Indonesia and English; kept on the account when signed in."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        user = g.get("user")
        if user is not None:
            user.language = lang
            db().commit()
    return redirect(safe_next(request.form.get("next")) or url_for("console.queue.index"))
