"""Batches on PostgreSQL in short statements whose text does not grow with the batch.

A multi-row INSERT ... VALUES grows with the batch, so every batch size is a new statement
for SQLAlchemy to render, for psycopg to parse (it caches only short queries) and for the
server to plan. Here a whole batch travels as one JSON document and the server unpacks it
(`json_populate_recordset`): the statement text is the same for 1 row or 500, psycopg keeps
it parsed, the server keeps it prepared, and the Python side is one call of orjson (several
times quicker than the standard library's encoder, which was a third of a batch's time)
instead of a parameter conversion per value. The group committer of the alarm receiver
stores its batches this way; SQLite keeps SQLAlchemy's executemany, which is already one
prepared statement there.

The statements run on the session's own connection (so in its transaction) through the
driver's cursor: for a batch, SQLAlchemy's result wrapping would cost more than the statement.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from sqlalchemy import Table
from sqlalchemy.orm import Session


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


def _document(rows: list[dict]) -> str:
    """The rows as one JSON array. Datetimes are written with their offset (a naive one is
    taken as UTC, as Siaga112 stores time); NaN and infinities become null."""
    return orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()


def insert_rows(session: Session, table: Table, rows: list[dict], *, returning: str | None = "id") -> list:
    """Insert `rows` (dicts with the same keys, column names of `table`) in the session's
    transaction; the `returning` column of each row, in the order of `rows` (ascending: it
    must come from a sequence). JSON columns take their values as they are."""
    if not rows:
        return []
    rows_back = execute(session, _statement(table, tuple(rows[0]), returning), (_document(rows),))
    return sorted(row[0] for row in rows_back) if returning else []


def insert_rows_and_notify(session: Session, table: Table, rows: list[dict], channel: str) -> None:
    """`insert_rows`, and a NOTIFY on `channel` with the newest id, in the same statement
    (one round trip: the notification is delivered when the transaction commits)."""
    if not rows:
        return
    sql = f"WITH inserted AS ({_statement(table, tuple(rows[0]), 'id')}) SELECT pg_notify(%s, max(id)::text) FROM inserted"
    execute(session, sql, (_document(rows), channel))


def execute(session: Session, sql: str, params) -> list[tuple]:
    """Run `sql` with psycopg `params` on the session's connection, in its transaction; its rows."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()
