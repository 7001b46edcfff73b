"""Schema that browsing needs on the core tables (migrations 0002_search and 0014_postgresql).

Declared here, next to the queries that use it, on the shared metadata: the schema tests
and Alembic see it through `swarmdex.db.migrate.all_models`. The search index tables are not
models (SQLAlchemy has no FTS5 virtual tables; PostgreSQL's is written by `postgres.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from swarmdex.db.models import Torrent

__all__ = ["folded_title", "title_index"]


class folded_title(FunctionElement[str]):
    """A title as sorting by name compares it, ignoring case: SQLite's NOCASE collation
    (ASCII letters), `lower()` on PostgreSQL (every letter its collation knows)."""

    type = String()
    name = "folded_title"
    inherit_cache = True


@compiles(folded_title)
def _lower(element: folded_title, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded_title, "sqlite")
def _nocase(element: folded_title, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "NOCASE"'


# An index in that order lets a page anywhere in the list start with a seek instead of
# sorting the catalogue.
title_index = Index("ix_torrents_title", folded_title(Torrent.title))
