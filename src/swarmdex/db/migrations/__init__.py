"""Alembic migrations of the swarmdex database, run by `swarmdex.db.migrate`.

Each file in `versions/` moves the schema one step, on SQLite and PostgreSQL alike: name
every constraint and index (`op.f("...")`, following `models.NAMING_CONVENTION`), alter
SQLite tables inside `op.batch_alter_table`, and import nothing from swarmdex, so that an
old migration keeps meaning what it meant when it was written.

The models are the tables on `models.Base`, from `swarmdex.db.models` and every
`swarmdex.<package>.models` (`migrate.all_models`); `tests/unit/db/test_migrate.py` checks
that the migrations at head build exactly those. SQLite virtual tables (FTS5) and their
shadow tables are the migrations' alone and are left out of that comparison.
"""
