"""Signing in and out, and choosing the console's language."""

from __future__ import annotations

import time

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from agent_console.i18n import LANGUAGES, translate
from agent_console.pages import safe_next
from siaga112 import audit, auth, events
from siaga112.db import iso, utcnow
from siaga112.models import User
from siaga112.web import db

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if g.get("user") is not None:
            return redirect(url_for("console.queue.index"))
        return render_template("auth/login.html", next=safe_next(request.args.get("next")))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user = db().scalar(select(User).where(User.username == username)) if username else None
    if user is None or not user.active or not auth.check_password(user.password_hash, password):
        audit.record(db(), username[:120] or "-", "login.failed", ip=request.remote_addr)
        db().commit()
        flash(translate("login.failed"), "error")
        return render_template("auth/login.html", next=safe_next(request.form.get("next")), username=username), 401
    session.clear()  # a fresh session on sign-in: nothing from before carries over
    session.permanent = True  # ends after PERMANENT_SESSION_LIFETIME (session_minutes)
    session["user_id"] = user.id
    session["pw"] = user.password_hash[-16:]  # a changed password ends every other session
    session["epoch"] = user.session_epoch  # signing out ends every session of the account
    session["since"] = time.time()  # the shift's session ends session_minutes after sign-in
    user.status, user.status_at = "available", utcnow()
    events.publish(db(), "agent.status", {"username": user.username, "status": user.status, "status_at": iso(user.status_at)})
    audit.record(db(), user.username, "login", actor_id=user.id, ip=request.remote_addr)
    db().commit()
    return redirect(safe_next(request.form.get("next")) or url_for("console.queue.index"))


@bp.post("/logout")
def logout():
    user = g.get("user")
    lang = session.get("lang")
    if user is not None:
        user.status, user.status_at = "offline", utcnow()
        events.publish(db(), "agent.status", {"username": user.username, "status": "offline", "status_at": iso(user.status_at)})
        user.session_epoch = (user.session_epoch or 0) + 1
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
