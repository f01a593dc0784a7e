"""Administration (role admin): console accounts, panic-button sites and field units.

Plain forms, each POST carrying the CSRF token; each change is written to the audit log with
the admin's name. Accounts are never deleted (the audit log points at them): they are
deactivated, which ends their sessions at the next request.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console import ami, i18n
from agent_console.pages import page
from agent_console.supervisor.common import client_ip
from routing import units as unit_service
from routing.alarms.sites import register_site, site_json
from routing.service import engine_for
from siaga112 import audit, auth
from siaga112.login_throttle import record_unlock
from siaga112.models import Agency, AlarmSite, Unit, User
from siaga112.models.people import ROLES
from siaga112.web import db, runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")

class AdminProblem(ValueError):
    """A form value that cannot be taken; the message says why."""


def _phone(session: Session, value: str | None, user_id: int | None = None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not ami.PHONE_INTERFACE.match(value):
        raise AdminProblem(i18n.translate("sv.admin.bad_phone"))
    other = session.scalar(select(User).where(User.phone_interface == value))
    if other is not None and other.id != user_id:
        raise AdminProblem(i18n.translate("sv.admin.phone_taken", user=other.username))
    return value


def create_user(session: Session, form, actor: User) -> User:
    """A new account from the form; the password is typed by the admin and only its hash kept."""
    try:
        user = auth.create_user(session, (form.get("username") or "").strip(), form.get("role", ""),
                                form.get("password") or "", display_name=(form.get("display_name") or "").strip() or None,
                                phone_interface=_phone(session, form.get("phone_interface")))
    except ValueError as error:
        raise AdminProblem(i18n.say(error)) from None
    audit.record(session, actor.username, "admin.user.create", f"user:{user.username}",
                 detail={"role": user.role, "phone": user.phone_interface}, actor_id=actor.id, ip=client_ip())
    return user


def update_user(session: Session, user: User, form, actor: User) -> None:
    """Role, phone, display name and active flag; an admin cannot lock themselves out."""
    role = form.get("role", user.role)
    active = form.get("active") == "on"
    if role not in ROLES:
        raise AdminProblem(i18n.translate("sv.admin.bad_role"))
    if user.id == actor.id and (not active or role != "admin"):
        raise AdminProblem(i18n.translate("sv.admin.not_yourself"))
    before = {"role": user.role, "phone": user.phone_interface, "active": user.active}
    user.phone_interface = _phone(session, form.get("phone_interface"), user.id)
    user.role, user.active = role, active
    user.display_name = (form.get("display_name") or "").strip() or user.username
    after = {"role": user.role, "phone": user.phone_interface, "active": user.active}
    audit.record(session, actor.username, "admin.user.update", f"user:{user.username}",
                 detail={"before": before, "after": after}, actor_id=actor.id, ip=client_ip())


def reset_password(session: Session, user: User, password: str, actor: User) -> None:
    """A new password; the old one's sessions end, since a session is bound to the password hash."""
    if len(password or "") < 8:
        raise AdminProblem(i18n.translate("sv.admin.short_password"))
    user.password_hash = auth.hash_password(password)
    audit.record(session, actor.username, "admin.user.password", f"user:{user.username}",
                 actor_id=actor.id, ip=client_ip())


def unlock_sign_in(session: Session, user: User, actor: User) -> None:
    """Let an account locked by others' wrong passwords sign in again: in the audit log, which
    every process's sign-in check consults (the counts may live in another process's memory)."""
    record_unlock(session, user, actor.username, actor_id=actor.id, ip=client_ip(), via="console")


def _done(endpoint: str, work) -> object:
    """Run one change: commit and say so, or roll back and show the reason on the same page."""
    try:
        work()
    except (AdminProblem, unit_service.UnitProblem, ValueError) as error:
        db().rollback()
        flash(i18n.say(error), "error")
    else:
        db().commit()
        flash(i18n.translate("sv.admin.saved"), "ok")
    return redirect(url_for(endpoint))


@bp.get("/users")
@page("admin")
def users():
    rows = db().scalars(select(User).order_by(User.active.desc(), User.role, User.username)).all()
    return render_template("supervisor/admin_users.html", users=rows, roles=ROLES)


@bp.post("/users")
@page("admin")
def users_create():
    return _done("supervisor.admin.users", lambda: create_user(db(), request.form, g.user))


@bp.post("/users/<int:user_id>")
@page("admin")
def users_update(user_id: int):
    user = db().get(User, user_id) or abort(404)
    return _done("supervisor.admin.users", lambda: update_user(db(), user, request.form, g.user))


@bp.post("/users/<int:user_id>/password")
@page("admin")
def users_password(user_id: int):
    user = db().get(User, user_id) or abort(404)
    return _done("supervisor.admin.users", lambda: reset_password(db(), user, request.form.get("password", ""), g.user))


@bp.post("/users/<int:user_id>/unlock")
@page("admin")
def users_unlock(user_id: int):
    user = db().get(User, user_id) or abort(404)
    return _done("supervisor.admin.users", lambda: unlock_sign_in(db(), user, g.user))


@bp.get("/sites")
@page("admin")
def sites():
    rows = db().scalars(select(AlarmSite).order_by(AlarmSite.name)).all()
    return render_template("supervisor/admin_sites.html", sites=[site_json(s) for s in rows])


@bp.post("/sites")
@page("admin")
def sites_save():
    """Add a site, or update the one that has this DC-09 account or button device."""
    form = request.form

    def work():
        interval = (form.get("interval_s") or "").strip()
        site, created = register_site(
            db(), name=form.get("name", ""), lat=form.get("lat"), lon=form.get("lon"),
            account=(form.get("account") or "").strip() or None, key=(form.get("key") or "").strip() or None,
            device_id=(form.get("device_id") or "").strip() or None, secret=form.get("secret") or None,
            interval_s=int(interval) if interval.isdigit() else None)
        audit.record(db(), g.user.username, "admin.site." + ("create" if created else "update"), f"site:{site.id}",
                     detail={"name": site.name, "account": site.account, "device_id": site.device_id},
                     actor_id=g.user.id, ip=client_ip())

    return _done("supervisor.admin.sites", work)


@bp.get("/units")
@page("admin")
def units():
    rows = db().execute(select(Unit, Agency).join(Agency, Unit.agency_id == Agency.id)
                        .order_by(Agency.code, Unit.callsign)).all()
    rules = engine_for(runtime()).rules
    return render_template("supervisor/admin_units.html", rows=rows, agencies=rules.agencies,
                           statuses=unit_service.UNIT_STATUSES)


@bp.post("/units")
@page("admin")
def units_create():
    form = request.form

    def work():
        unit = unit_service.add_unit(db(), engine_for(runtime()).rules, form.get("callsign", ""), form.get("agency", ""),
                                     (form.get("kind") or "").strip() or None, phone=(form.get("phone") or "").strip() or None)
        audit.record(db(), g.user.username, "admin.unit.create", f"unit:{unit.callsign}",
                     detail={"agency": form.get("agency"), "kind": unit.kind}, actor_id=g.user.id, ip=client_ip())

    return _done("supervisor.admin.units", work)


@bp.post("/units/<int:unit_id>")
@page("admin")
def units_update(unit_id: int):
    unit = db().get(Unit, unit_id) or abort(404)
    form = request.form

    def work():
        before = {"status": unit.status, "phone": unit.phone}
        unit.phone = (form.get("phone") or "").strip() or None
        if form.get("status") and form["status"] != unit.status:
            unit_service.set_status(db(), unit, form["status"])
        audit.record(db(), g.user.username, "admin.unit.update", f"unit:{unit.callsign}",
                     detail={"before": before, "after": {"status": unit.status, "phone": unit.phone}},
                     actor_id=g.user.id, ip=client_ip())

    return _done("supervisor.admin.units", work)
