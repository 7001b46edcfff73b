"""Site notice, site modes and privacy settings.

Revision ID: 0011_site_modes
Revises: 0010_takedowns
Create Date: 2025-01-07
"""

from __future__ import annotations

revision = "0011_site_modes"
down_revision: str | None = "0010_takedowns"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
