"""Every page and API test here runs twice: on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _on_each_database(database_backend: str) -> str:
    return database_backend
