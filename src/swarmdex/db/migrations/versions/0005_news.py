"""News posts and their comments.

Revision ID: 0005_news
Revises: 0004_search_names
Create Date: 2025-01-05
"""

from __future__ import annotations

revision = "0005_news"
down_revision: str | None = "0004_search_names"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
