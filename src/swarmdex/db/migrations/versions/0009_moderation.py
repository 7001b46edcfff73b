"""Reports, the moderation queue and bans.

Reports keep no address of whoever sent them; `reporter_contact` (an email, only if they
typed one) sits in a column of its own so a retention purge can clear it.

Revision ID: 0009_moderation
Revises: 0008_audit
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_moderation"
down_revision: str | None = "0008_audit"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_key(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reporter_contact", sa.String(length=254), nullable=True),
        _timestamp("created_at"),
        _timestamp("resolved_at", nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolution_note", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        _user_key("reports", "reporter_id", "SET NULL"),
        _user_key("reports", "resolved_by_id", "SET NULL"),
    )
    op.create_index("ix_reports_target", "reports", ["target_type", "target_id"])
    op.create_index("ix_reports_resolved_at_created_at", "reports", ["resolved_at", "created_at"])
    op.create_index(op.f("ix_reports_reporter_id"), "reports", ["reporter_id"])
    op.create_table(
        "user_bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("ends_at", nullable=True),
        sa.Column("banned_by_id", sa.Integer(), nullable=True),
        _timestamp("lifted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_bans")),
        _user_key("user_bans", "user_id", "CASCADE"),
        _user_key("user_bans", "banned_by_id", "SET NULL"),
    )
    op.create_index(op.f("ix_user_bans_user_id"), "user_bans", ["user_id"])
    op.create_table(
        "network_bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=43), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        _timestamp("created_at"),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_bans")),
        sa.UniqueConstraint("network", name=op.f("uq_network_bans_network")),
        _user_key("network_bans", "created_by_id", "SET NULL"),
    )


def downgrade() -> None:
    op.drop_table("network_bans")
    op.drop_table("user_bans")
    op.drop_table("reports")  # their indexes go with them
