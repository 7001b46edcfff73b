"""Private mode's bonus rules: freeleech and double upload per torrent, and site-wide events.

Per-torrent factors live in a table of their own rather than as columns of `torrents`: SQLite
would rebuild that table to add them.

Revision ID: 0017_bonus
Revises: 0016_accounting
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_bonus"
down_revision: str | None = "0016_accounting"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "torrent_factors",
        sa.Column("torrent_id", sa.Integer(), nullable=False),
        sa.Column("download_factor", sa.Float(), server_default="1", nullable=False),
        sa.Column("upload_factor", sa.Float(), server_default="1", nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by_id"], ["users.id"],
                                name=op.f("fk_torrent_factors_set_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["torrent_id"], ["torrents.id"],
                                name=op.f("fk_torrent_factors_torrent_id_torrents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("torrent_id", name=op.f("pk_torrent_factors")),
    )
    op.create_table(
        "bonus_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("download_factor", sa.Float(), server_default="1", nullable=False),
        sa.Column("upload_factor", sa.Float(), server_default="1", nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_bonus_events_created_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_bonus_events_starts_at"), "bonus_events", ["starts_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bonus_events_starts_at"), table_name="bonus_events")
    op.drop_table("bonus_events")
    op.drop_table("torrent_factors")
