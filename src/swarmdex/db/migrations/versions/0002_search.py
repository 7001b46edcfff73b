"""Full-text search index of the catalogue (SQLite FTS5), and an index to browse by name.

One row per torrent, rowid = torrents.id. The columns hold the tokens of `swarmdex.search.
tokenize` joined by spaces (not the original text): tokenizing happens in Python so that every
backend indexes the same words, and FTS5's `unicode61` only has spaces to split on.
`remove_diacritics 0`: accents are already folded. `prefix '2 3'`: prefix queries (`ubu*`,
and the implicit prefix on the last word typed) read a small prefix index instead of scanning
every token. The table keeps its own copy of the tokens (a regular FTS5 table): SQLite before
3.43 cannot delete rows from a contentless one.

Only SQLite gets the table. On PostgreSQL this revision does nothing for now: swarmdex falls
back to plain matching on titles (`swarmdex.search.fallback`) until the tsvector + GIN
backend arrives behind the same `SearchBackend` interface, with a migration of its own.

Revision ID: 0002_search
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from alembic import op

revision = "0002_search"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "search_fts"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # see the module docstring: PostgreSQL gets its own search backend later
    op.execute(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5("
        "title, name, tags, files, "
        "tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3')"
    )
    # Browsing by name, case-insensitively (see swarmdex.search.models).
    op.execute('CREATE INDEX ix_torrents_title ON torrents (title COLLATE "NOCASE")')
    # No rows are copied here: no release before this revision could upload torrents.
    # `swarmdex.search.services.reindex` rebuilds the whole index should it ever be needed.


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_torrents_title")
    op.execute(f"DROP TABLE {TABLE}")
