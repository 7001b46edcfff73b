"""The database: engines and transactions (`engine`), tables (`models`), migrations (`migrate`).

SQLite in the data directory by default; PostgreSQL by setting `database_url`. The same
models and migrations serve both.
"""

from swarmdex.db.engine import (
    DatabaseConfigError,
    create_engine,
    database_url,
    display_url,
    session_factory,
    transaction,
)

__all__ = [
    "DatabaseConfigError",
    "create_engine",
    "database_url",
    "display_url",
    "session_factory",
    "transaction",
]
