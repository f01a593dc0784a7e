"""A cheap mark of what some tables hold, so in-memory indexes reload only when a table changed.

Each table gives its row count and latest `updated_at`: adding or changing a row moves the
latest stamp, removing one lowers the count. Two aggregate queries a table, however big it is.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session


def tables_fingerprint(session: Session, models) -> tuple:
    """(count, latest updated_at) of each model's table, in order; equal marks mean nothing changed."""
    parts = []
    for model in models:
        parts.extend(session.execute(select(func.count(model.id), func.max(model.updated_at))).one())
    return tuple(parts)
