"""Notice-and-takedown: notices, decisions, counter-notices.

Revision ID: 0010_takedowns
Revises: 0009_moderation
Create Date: 2025-01-07
"""

from __future__ import annotations

revision = "0010_takedowns"
down_revision: str | None = "0009_moderation"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
