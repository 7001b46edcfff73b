"""Ids are never handed out twice: SQLite tables with a numeric id get AUTOINCREMENT.

Without it SQLite gives a new row max(id) + 1, so deleting the newest account (torrent,
comment...) lets the next one take its id, and with it every audit entry, report and notice
that names that id. AUTOINCREMENT keeps a counter (sqlite_sequence) that only goes up.

SQLite cannot add AUTOINCREMENT to a table, so each table is rebuilt the way SQLite
documents for schema changes: a new table from the old one's own CREATE statement with the
id column made `INTEGER PRIMARY KEY AUTOINCREMENT` (every other column, default, CHECK and
foreign key stays as written), the rows copied with their ids (which sets the counter to the
largest id present), the old table dropped and the new one renamed, then the old table's
indexes and triggers (the audit log's append-only guard) created again from their own SQL.
Foreign keys are off while migrating and all checked before the commit (see
swarmdex.db.migrate); the whole upgrade is one transaction. (Alembic's batch mode would do
the same but reflects every table first: several times slower, on every fresh database.)

PostgreSQL's sequences never reuse ids: nothing to do there.

Revision ID: 0012_ids_never_reused
Revises: 0011_site_modes
Create Date: 2025-01-08
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from alembic import op

revision = "0012_ids_never_reused"
down_revision: str | None = "0011_site_modes"
branch_labels: str | None = None
depends_on: str | None = None

# Every table with a numeric id at this revision (tables keyed otherwise, like sessions or
# torrent_files, have no id to reuse).
TABLES: Final = (
    "users", "categories", "tags", "torrents", "api_tokens", "comments",
    "news_posts", "news_comments", "donation_campaigns", "donations", "audit_log",
    "reports", "user_bans", "network_bans",
    "takedown_notices", "takedown_items", "takedown_counter_notices",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, _with_autoincrement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, _without_autoincrement)


_ID: Final = re.compile(r"^(\s*)id INTEGER NOT NULL,", re.MULTILINE)
_ID_AUTOINCREMENT: Final = re.compile(
    r"^(\s*)id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", re.MULTILINE)


def _with_autoincrement(sql: str, table: str) -> str:
    # The key moves from a named table constraint to the column: AUTOINCREMENT is only
    # allowed there. (The models' DDL words it the same way.)
    sql = _replace_once(_ID, r"\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", sql)
    constraint = rf"CONSTRAINT pk_{table} PRIMARY KEY \(id\)"
    if re.search(constraint + r",", sql):
        return _replace_once(re.compile(r"\s*" + constraint + r","), "", sql)
    return _replace_once(re.compile(r",\s*" + constraint), "", sql)


def _without_autoincrement(sql: str, table: str) -> str:
    sql = _replace_once(_ID_AUTOINCREMENT, r"\1id INTEGER NOT NULL,", sql)
    closing = sql.rindex(")")
    return f"{sql[:closing].rstrip()}, \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n{sql[closing:]}"


def _replace_once(pattern: re.Pattern[str], replacement: str, sql: str) -> str:
    new, count = pattern.subn(replacement, sql)
    if count != 1:
        raise RuntimeError(f"unexpected table definition, cannot rebuild it: {sql}")
    return new


def _rebuild(table: str, change: Callable[[str, str], str]) -> None:
    bind = op.get_bind()

    def sql_of(kind: str) -> list[str]:
        rows = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (kind, table),
        )
        return [str(sql) for sql in rows.scalars()]

    foreign_keys = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    has_rows = bind.exec_driver_sql(f'SELECT 1 FROM "{table}" LIMIT 1').first() is not None
    if foreign_keys and has_rows:
        # Dropping the old copy would cascade into every row that refers to it.
        raise RuntimeError("rebuilding tables needs foreign keys off: migrate with "
                           "`swarmdex db upgrade`")
    (create,) = sql_of("table")
    indexes, triggers = sql_of("index"), sql_of("trigger")
    head = re.compile(rf'^CREATE TABLE (?:"{table}"|{table}) \(')
    temporary = f"_rebuild_{table}"
    bind.exec_driver_sql(_replace_once(head, f'CREATE TABLE "{temporary}" (', change(create, table)))
    bind.exec_driver_sql(f'INSERT INTO "{temporary}" SELECT * FROM "{table}"')
    bind.exec_driver_sql(f'DROP TABLE "{table}"')  # its indexes and triggers with it
    bind.exec_driver_sql(f'ALTER TABLE "{temporary}" RENAME TO "{table}"')
    for sql in (*indexes, *triggers):
        bind.exec_driver_sql(sql)
