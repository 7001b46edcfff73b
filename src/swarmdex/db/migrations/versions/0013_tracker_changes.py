"""The tracker change feed: what tracker nodes in other processes follow.

Revision ID: 0013_tracker_changes
Revises: 0012_ids_never_reused
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_tracker_changes"
down_revision: str | None = "0012_ids_never_reused"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tracker_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("info_hash_v1", sa.LargeBinary(length=20), nullable=True),
        sa.Column("info_hash_v2", sa.LargeBinary(length=32), nullable=True),
        sa.Column("listed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_tracker_changes_made_at"), "tracker_changes", ["made_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tracker_changes_made_at"), table_name="tracker_changes")
    op.drop_table("tracker_changes")
