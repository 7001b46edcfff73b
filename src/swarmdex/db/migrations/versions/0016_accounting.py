"""Private mode's accounting: what each member uploaded and downloaded, per torrent.

Revision ID: 0016_accounting
Revises: 0015_private
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_accounting"
down_revision: str | None = "0015_private"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "member_torrents",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("torrent_id", sa.Integer(), nullable=False),
        sa.Column("uploaded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("downloaded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("uploaded_raw", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("downloaded_raw", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("seeding_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seeder", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["torrent_id"], ["torrents.id"],
                                name=op.f("fk_member_torrents_torrent_id_torrents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_member_torrents_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "torrent_id", name=op.f("pk_member_torrents")),
    )
    op.create_index(op.f("ix_member_torrents_torrent_id"), "member_torrents", ["torrent_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_member_torrents_torrent_id"), table_name="member_torrents")
    op.drop_table("member_torrents")
