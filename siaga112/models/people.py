"""People and machines that use Siaga112, people who report, and the audit log of what they did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.base import NO_VALUE, NEVER_SET

from siaga112.db import Base, UTCDateTime, utcnow

ROLES = ("calltaker", "dispatcher", "supervisor", "admin")


class User(Base):
    """A console account: a call-taker, dispatcher, supervisor or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # The Asterisk queue member interface of this user's phone, e.g. "PJSIP/1001": how the
    # `agent-connected` hook knows whose console to pop the call on.
    phone_interface: Mapped[str | None] = mapped_column(String(200), unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="offline")  # offline, available, on_call, break
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Signing out or a new password raises it, which ends every console session of the account,
    # copies included (a cookie session cannot be revoked any other way).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def end_sessions(self) -> None:
        """End every console session of this account (sign-out everywhere)."""
        self.session_epoch = (self.session_epoch or 0) + 1


@event.listens_for(User.password_hash, "set", active_history=True)
def _new_password_ends_sessions(user: User, value, old, _initiator) -> None:
    """Whatever sets a new password (the admin page, the command, a script), old sessions end."""
    if old not in (NO_VALUE, NEVER_SET, None) and value != old:
        user.end_sessions()


class ApiToken(Base):
    """A bearer token for a machine client; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Reporter(Base):
    """Someone who reports by app, SMS or phone: points for true reports, strikes for false ones."""

    __tablename__ = "reporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    app_user_id: Mapped[str | None] = mapped_column(String(120))
    points: Mapped[int] = mapped_column(Integer, default=0)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_state: Mapped[str | None] = mapped_column(String(16))  # pending, granted, refused
    appeal_text: Mapped[str | None] = mapped_column(Text)
    appeal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_decided_by: Mapped[str | None] = mapped_column(String(120))
    appeal_note: Mapped[str | None] = mapped_column(Text)  # the supervisor's reason, shown to the reporter
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what to which record, when: listens, removals, monitoring, grants."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
