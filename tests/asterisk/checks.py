"""What the Asterisk tests read back from Siaga112's database, and waiting for it."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from sqlalchemy import select

from siaga112.models import Call, LocationFix, Recording

T = TypeVar("T")


def eventually(check: Callable[[], T], *, timeout: float = 30.0, what: str = "") -> T:
    """The first truthy value of `check()`, asked every 0.1 s, or an AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        time.sleep(0.1)


def calls(database) -> list[Call]:
    with database.session() as session:
        return list(session.scalars(select(Call).order_by(Call.id)))


def call_of(database, call_id) -> Call:
    with database.session() as session:
        return session.get(Call, int(call_id))


def recordings_of(database, call_id) -> list[Recording]:
    with database.session() as session:
        return list(session.scalars(select(Recording).where(Recording.call_id == int(call_id)).order_by(Recording.id)))


def fixes_of(database, call_id) -> list[LocationFix]:
    with database.session() as session:
        return list(session.scalars(select(LocationFix).where(LocationFix.call_id == int(call_id))
                                    .order_by(LocationFix.id)))
