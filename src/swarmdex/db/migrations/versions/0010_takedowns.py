"""Notice-and-takedown: notices, decisions, counter-notices.

Revision ID: 0010_takedowns
Revises: 0009_moderation
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_takedowns"
down_revision: str | None = "0009_moderation"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _status(*values: str) -> sa.Enum:
    return sa.Enum(*values, name="status", native_enum=False, length=16, create_constraint=True)


def _decision() -> list[sa.Column[object]]:
    return [
        _timestamp("decided_at", nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), server_default="", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "takedown_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("received_at"),
        sa.Column("claimant_name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("work", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("status", _status("pending", "accepted", "rejected"), server_default="pending",
                  nullable=False),
        *_decision(),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_notices_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_notices")),
    )
    for column in ("received_at", "status", "decided_at"):
        op.create_index(op.f(f"ix_takedown_notices_{column}"), "takedown_notices", [column])
    op.create_table(
        "takedown_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("torrent_id", sa.Integer(), nullable=True),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("swarm_key", sa.LargeBinary(length=20), nullable=False),
        sa.Column("info_hash_v1", sa.LargeBinary(length=20), nullable=True),
        sa.Column("info_hash_v2", sa.LargeBinary(length=32), nullable=True),
        sa.Column("v2_truncated", sa.LargeBinary(length=20), nullable=True),
        _timestamp("taken_down_at", nullable=True),
        _timestamp("restored_at", nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["takedown_notices.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_items_notice_id_takedown_notices")),
        sa.ForeignKeyConstraint(["torrent_id"], ["torrents.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_items_torrent_id_torrents")),
        sa.ForeignKeyConstraint(["uploader_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_items_uploader_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_items")),
    )
    for column in ("notice_id", "torrent_id", "uploader_id", "swarm_key", "info_hash_v1",
                   "info_hash_v2", "v2_truncated"):
        op.create_index(op.f(f"ix_takedown_items_{column}"), "takedown_items", [column])
    op.create_table(
        "takedown_counter_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("received_at"),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("status", _status("pending", "restored", "upheld"), server_default="pending",
                  nullable=False),
        *_decision(),
        sa.ForeignKeyConstraint(["notice_id"], ["takedown_notices.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_counter_notices_notice_id_takedown_notices")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_counter_notices_user_id_users")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_counter_notices_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_counter_notices")),
    )
    for column in ("notice_id", "user_id", "received_at", "status", "decided_at"):
        op.create_index(op.f(f"ix_takedown_counter_notices_{column}"), "takedown_counter_notices",
                        [column])


def downgrade() -> None:
    op.drop_table("takedown_counter_notices")
    op.drop_table("takedown_items")
    op.drop_table("takedown_notices")
