"""PostgreSQL as a first-class database: full-text search, browsing by name, the audit log's
refusals.

`search_documents` holds one row per torrent on the site (see `swarmdex.search.postgres`):
`names` (title, name, tags) and `everything` (the same and the file paths), made in Python
from the same tokens as SQLite's FTS5 tables. Torrents already in the database are indexed
here, in batches, with the search services' own rules (the first MAX_INDEXED_FILES paths).

`ix_torrents_title` lets the browse pages sort by name case-insensitively with a seek,
as SQLite's NOCASE index does (0002_search).

The audit log's trigger (0008_audit) refused changes with PostgreSQL's generic error; it now
raises an integrity violation, as SQLite's `RAISE(ABORT)` does (callers see the same
`IntegrityError` on both), and refuses TRUNCATE too, which row triggers do not see.

SQLite has all this since 0002/0004/0008: nothing to do there.

Revision ID: 0014_postgresql
Revises: 0013_tracker_changes
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from swarmdex.search.services import MAX_INDEXED_FILES
from swarmdex.search.tokenize import paths_token_text, token_text
from swarmdex.search.tsvector import document_vectors

revision = "0014_postgresql"
down_revision: str | None = "0013_tracker_changes"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 500
AUDIT_MESSAGE = "the audit log is append-only"  # as in 0008_audit


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE search_documents ("
        " torrent_id INTEGER NOT NULL,"
        " names TSVECTOR NOT NULL,"
        " everything TSVECTOR NOT NULL,"
        " CONSTRAINT pk_search_documents PRIMARY KEY (torrent_id),"
        " CONSTRAINT fk_search_documents_torrent_id_torrents FOREIGN KEY (torrent_id)"
        "  REFERENCES torrents (id) ON DELETE CASCADE)"
    )
    # fastupdate off: an upload's entry is searchable at once, not after a pending-list
    # flush that one unlucky search would pay for.
    op.execute("CREATE INDEX ix_search_documents_names ON search_documents "
               "USING gin (names) WITH (fastupdate = off)")
    op.execute("CREATE INDEX ix_search_documents_everything ON search_documents "
               "USING gin (everything) WITH (fastupdate = off)")
    op.execute("CREATE INDEX ix_torrents_title ON torrents (lower(title))")
    _index_existing(bind)
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{AUDIT_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; "
        "END $$"
    )
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def _index_existing(bind: sa.Connection) -> None:
    last = 0
    while True:
        torrents = bind.execute(sa.text(
            "SELECT id, title, name FROM torrents WHERE id > :last AND deleted_at IS NULL "
            "ORDER BY id LIMIT :batch"), {"last": last, "batch": BATCH}).all()
        if not torrents:
            return
        for torrent_id, title, name in torrents:
            tags = bind.execute(sa.text(
                "SELECT tags.name FROM tags JOIN torrent_tags ON torrent_tags.tag_id = tags.id "
                "WHERE torrent_tags.torrent_id = :id"), {"id": torrent_id}).scalars().all()
            paths = bind.execute(sa.text(
                "SELECT path FROM torrent_files WHERE torrent_id = :id ORDER BY position "
                "LIMIT :most"), {"id": torrent_id, "most": MAX_INDEXED_FILES}).scalars().all()
            names, everything = document_vectors(
                token_text(title), token_text(name), " ".join(token_text(t) for t in tags),
                paths_token_text(paths))
            bind.execute(sa.text(
                "INSERT INTO search_documents (torrent_id, names, everything) "
                "VALUES (:id, CAST(:names AS tsvector), CAST(:everything AS tsvector))"),
                {"id": torrent_id, "names": names, "everything": everything})
        last = torrents[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{AUDIT_MESSAGE}'; END $$"
    )
    op.execute("DROP INDEX ix_torrents_title")
    op.execute("DROP TABLE search_documents")
