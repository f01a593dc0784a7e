"""What the Asterisk tests read back from Siaga112's database, and waiting for it."""

from __future__ import annotations

from sqlalchemy import select

from siaga112.models import Call, LocationFix, Recording
from tests.support.waiting import wait_until as eventually  # noqa: F401  (the Asterisk tests' name for it)


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
