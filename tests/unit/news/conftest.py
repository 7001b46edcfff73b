"""A migrated SQLite file per test with one member per role: the comments tests' world."""

from __future__ import annotations

from ..comments.conftest import World, async_test, url, world

__all__ = ["World", "async_test", "url", "world"]
