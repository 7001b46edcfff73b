"""A second full-text index holding only the names (title, info-dictionary name, tags).

Most searches look at names only. In the one index of revision 0002 they had to filter by
column, and FTS5 then reads each matching word's positions in every column, file paths
included: a word as common as "24" sits thousands of times in file lists, so a search for
"ubuntu 24.04" read megabytes it did not need. `search_names` answers those searches;
`search_fts` stays for searches that include file names. Rows are copied from it.

Revision ID: 0004_search_names
Revises: 0003_comments_settings
Create Date: 2025-01-04
"""

from __future__ import annotations

from alembic import op

revision = "0004_search_names"
down_revision: str | None = "0003_comments_settings"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "search_names"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # as in 0002_search: PostgreSQL gets its own search backend
    op.execute(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5("
        "title, name, tags, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3')"
    )
    op.execute(
        f"INSERT INTO {TABLE} (rowid, title, name, tags) "
        "SELECT rowid, title, name, tags FROM search_fts"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP TABLE {TABLE}")
