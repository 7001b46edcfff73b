"""Schema that browsing needs on the core tables (migration 0002_search).

Declared here, next to the queries that use it, on the shared metadata: the schema tests
and Alembic see it through `swarmdex.db.migrate.all_models`. The FTS5 table itself is not
a model (SQLAlchemy has no virtual tables); `fts5.py` names it.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Index

from swarmdex.db.models import Torrent

__all__ = ["TITLE_ORDER", "title_index"]

# Sorting by name ignores case ("archlinux" before "Zorin"), in SQLite's NOCASE collation
# (ASCII letters only). An index in that collation lets a page anywhere in the list start
# with a seek instead of sorting the catalogue. SQLite only: PostgreSQL gets its own with
# the PostgreSQL search backend.
TITLE_ORDER: Final = "NOCASE"
title_index = Index("ix_torrents_title", Torrent.title.collate(TITLE_ORDER)).ddl_if(
    dialect="sqlite"
)
