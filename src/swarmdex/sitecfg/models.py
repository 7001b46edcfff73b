"""The `site_settings` table (migration 0003_comments_settings).

Declared on the shared `Base`, so the schema tests and Alembic see it with the core tables;
`swarmdex.db.models` does not import it, so whoever needs the full schema imports this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import Base, utcnow

__all__ = ["SiteSetting"]

KEY_LENGTH = 64


class SiteSetting(Base):
    """One setting changed in the admin page; it overrides the configuration file's value.

    A row exists only while the value differs from the configuration file, so an operator who
    edits the file later still sees the change unless the admin page overrides that very key.
    Values are JSON so that a new setting needs no migration.
    """

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"SiteSetting(key={self.key!r}, value={self.value!r})"
