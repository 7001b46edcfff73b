"""Alembic's entry point: run the migrations on the connection `swarmdex.db.migrate` passes.

`migrate.upgrade` has already begun the transaction, so the whole upgrade is one
transaction and Alembic does not begin one of its own.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from swarmdex.db.migrate import all_models, include_name

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("swarmdex migrations run through swarmdex.db.migrate (swarmdex db upgrade)")

context.configure(
    connection=connection,
    target_metadata=all_models(),
    render_as_batch=True,  # SQLite alters a table by copying it
    compare_type=True,
    include_name=include_name(connection),
)
with context.begin_transaction():
    context.run_migrations()
