"""Reports, the moderation queue and bans.

Revision ID: 0009_moderation
Revises: 0008_audit
Create Date: 2025-01-07
"""

from __future__ import annotations

revision = "0009_moderation"
down_revision: str | None = "0008_audit"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
