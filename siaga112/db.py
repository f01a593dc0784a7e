"""The database: one engine per process, short sessions, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timezone
from typing import Iterator

import orjson

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from siaga112.storable import storable_json, storable_values

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Siaga112 table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (the only kind of time Siaga112 stores)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the API promises."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def json_text(value) -> str:
    """JSON columns' text: orjson, several times quicker than the standard encoder on the
    alarm receiver's batches. Compact; keys that are not strings are written as strings,
    as the standard encoder does. Text from outside is made storable (`siaga112.storable`):
    a NUL is kept as the text `\\x00`, a lone surrogate as `\\udXXX`."""
    try:
        document = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC).decode()
    except TypeError:  # orjson refuses lone surrogates and whole numbers beyond 64 bits
        value = storable_values(value)
        try:
            document = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC).decode()
        except TypeError:  # a number beyond 64 bits from outside: the standard encoder writes it
            document = json.dumps(value, separators=(",", ":"), default=str, allow_nan=True)
    return storable_json(document)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the console read while the IVR writes; FULL sync because an acknowledged alarm
    # or a queued call must survive a power cut; the busy timeout rides out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# A pooled PostgreSQL connection given back this recently is taken as alive; one idle longer
# is pinged before use, so a restarted server costs a reconnect, not a failed request.
PING_AFTER_IDLE_S = 1.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Pool pre-ping, but only for connections idle past PING_AFTER_IDLE_S.

    A busy writer (the alarm receiver's group committer takes a connection per batch)
    would otherwise pay a round trip to the server for every batch.
    """
    checked_in = record.info.get("checked_in_at")
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # the pool then drops this connection and tries a fresh one
        raise DisconnectionError(str(error)) from error


class Database:
    """An engine and its session factory, built once from the database URL and passed around."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict = {"echo": echo, "future": True, "json_serializer": json_text}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.pool, "checkout", _ping_if_idle)
            event.listen(self.engine.pool, "checkin", _note_checkin)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
