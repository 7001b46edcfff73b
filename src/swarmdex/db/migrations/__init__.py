"""Alembic migrations of the swarmdex database, run by `swarmdex.db.migrate`.

Each file in `versions/` moves the schema one step, on SQLite and PostgreSQL alike: name
every constraint and index (`op.f("...")`, following `models.NAMING_CONVENTION`), alter
SQLite tables inside `op.batch_alter_table`, and import nothing from swarmdex, so that an
old migration keeps meaning what it meant when it was written.
`tests/unit/db/test_migrations.py` checks that the migrations at head match the models.
"""
