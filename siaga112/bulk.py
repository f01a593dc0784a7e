"""Batches of rows in one statement, for writers that store many rows per transaction.

PostgreSQL: a multi-row INSERT ... VALUES grows with the batch, so every batch size is a new
statement for SQLAlchemy to render, for psycopg to parse (it caches only short queries) and
for the server to plan. Here a whole batch travels as one JSON document and the server
unpacks it (`json_populate_recordset`): the statement text is the same for 1 row or 500,
psycopg keeps it parsed, the server keeps it prepared, and the Python side is one call of
orjson instead of a parameter conversion per value.

SQLite: one executemany of the driver, each value converted by its column type's own
SQLAlchemy conversion (so rows read back exactly as SQLAlchemy's own inserts do). SQLAlchemy's
bulk insert spent more on its per-row bookkeeping than SQLite spent storing the rows.

Both run on the session's own connection (so in its transaction) through the driver's
cursor. The alarm receiver's group committer stores its batches this way.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from sqlalchemy import Table
from sqlalchemy.orm import Session

from siaga112.storable import column_limits, storable_json, storable_values


@lru_cache(maxsize=64)
def _statement(table: Table, columns: tuple[str, ...], returning: str | None) -> str:
    names = ", ".join(columns)
    # ORDER BY the position in the document: ids from the table's sequence then rise in row
    # order, and the caller gets them back in the order it gave its rows.
    sql = (f"INSERT INTO {table.name} ({names}) SELECT {names} "
           f"FROM ROWS FROM (json_populate_recordset(NULL::{table.name}, %s::json)) WITH ORDINALITY AS given "
           f"ORDER BY given.ordinality")
    if returning:
        sql += f" RETURNING {returning}"
    return sql


def _document(rows: list[dict], table: Table | None = None) -> str:
    """The rows as one JSON array. Datetimes are written with their offset (a naive one is
    taken as UTC, as Siaga112 stores time); NaN and infinities become null. Text is made
    storable as the columns' own type would (`siaga112.storable`): NUL escaped, lengths capped."""
    if table is not None:
        _cap(rows, table)
    try:
        document = orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC)
    except TypeError:  # a lone surrogate, which orjson refuses: escape and try again
        document = orjson.dumps(storable_values(rows), option=orjson.OPT_NAIVE_UTC)
    return storable_json(document.decode())


@lru_cache(maxsize=64)
def _limits(table: Table) -> tuple[tuple[str, int], ...]:
    return tuple((name, limit) for name, limit in column_limits(table).items() if limit)


def _cap(rows: list[dict], table: Table) -> None:
    """Values longer than their column, cut to its length (in place)."""
    limits = [(name, limit) for name, limit in _limits(table) if name in rows[0]]
    for row in rows:
        for name, limit in limits:
            value = row[name]
            if value.__class__ is str and len(value) > limit:
                row[name] = value[:limit]


def insert_rows(session: Session, table: Table, rows: list[dict], *, returning: str | None = "id") -> list:
    """Insert `rows` (dicts with the same keys, column names of `table`) in the session's
    transaction; the `returning` column of each row, in the order of `rows` (ascending: it
    must come from a sequence, and on SQLite it must be the integer primary key `id`).
    JSON columns take their values as they are."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _insert_sqlite(session, dialect, table, rows, returning)
    rows_back = execute(session, _statement(table, tuple(rows[0]), returning), (_document(rows, table),))
    return sorted(row[0] for row in rows_back) if returning else []


@lru_cache(maxsize=64)
def _sqlite_statement(table: Table, columns: tuple[str, ...], dialect) -> tuple[str, tuple]:
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return sql, tuple(table.c[name].type.bind_processor(dialect) for name in columns)


def _insert_sqlite(session: Session, dialect, table: Table, rows: list[dict], returning: str | None) -> list:
    if returning not in (None, "id") or "id" in rows[0]:
        raise ValueError("on SQLite a batch gives back only the ids SQLite chose")
    columns = tuple(rows[0])
    sql, processors = _sqlite_statement(table, columns, dialect)
    values = []
    for name, convert in zip(columns, processors):
        column = [row[name] for row in rows]
        values.append(column if convert is None else list(map(convert, column)))
    params = list(zip(*values))
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(sql, params)
        if not returning:
            return []
        # One writer holds SQLite's lock for the whole transaction, and a new rowid is one more
        # than the largest: the batch's ids are the last one and those just below it.
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
    finally:
        cursor.close()
    return list(range(last - len(rows) + 1, last + 1))


def insert_rows_and_notify(session: Session, table: Table, rows: list[dict], channel: str) -> None:
    """`insert_rows`, and a NOTIFY on `channel` with the newest id, in the same statement
    (one round trip: the notification is delivered when the transaction commits)."""
    if not rows:
        return
    sql = f"WITH inserted AS ({_statement(table, tuple(rows[0]), 'id')}) SELECT pg_notify(%s, max(id)::text) FROM inserted"
    execute(session, sql, (_document(rows, table), channel))


def execute(session: Session, sql: str, params, *, prepare: bool | None = None) -> list[tuple]:
    """Run `sql` with psycopg `params` on the session's connection, in its transaction; its rows.

    `prepare=False` keeps psycopg from preparing the statement on the server, for a lookup
    whose best plan changes as its table grows (see `routing.alarms.store._stored_keys`).
    """
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()
