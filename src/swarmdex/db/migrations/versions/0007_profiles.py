"""Profile fields on accounts.

Revision ID: 0007_profiles
Revises: 0006_donations
Create Date: 2025-01-05
"""

from __future__ import annotations

revision = "0007_profiles"
down_revision: str | None = "0006_donations"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
