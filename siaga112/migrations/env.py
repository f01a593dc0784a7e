"""Alembic environment: migrations run on the connection `siaga112 db upgrade` hands in."""

from alembic import context

import siaga112.models  # noqa: F401  (registers every table on the metadata)
from siaga112.db import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
