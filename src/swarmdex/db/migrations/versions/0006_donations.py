"""Donation campaigns, their running costs and the ledger.

Revision ID: 0006_donations
Revises: 0005_news
Create Date: 2025-01-05
"""

from __future__ import annotations

revision = "0006_donations"
down_revision: str | None = "0005_news"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
