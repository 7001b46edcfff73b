"""The first tables of the index: users, categories, torrents and their files and tags,
API tokens, login sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ROLES = ("user", "trusted", "moderator", "admin")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
        _timestamp("created_at"),
        _timestamp("disabled_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name_key", name=op.f("uq_users_name_key")),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{role}'" for role in ROLES) + ")", name=op.f("ck_users_role")
        ),
    )
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "torrents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("info_hash_v1", sa.LargeBinary(length=20), nullable=True),
        sa.Column("info_hash_v2", sa.LargeBinary(length=32), nullable=True),
        sa.Column("swarm_key", sa.LargeBinary(length=20), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("piece_length", sa.Integer(), nullable=False),
        sa.Column("info_dict", sa.LargeBinary(), nullable=False),
        sa.Column("original_trackers", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_torrents")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_torrents_category_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_torrents_uploader_id_users"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("info_hash_v1", name=op.f("uq_torrents_info_hash_v1")),
        sa.UniqueConstraint("info_hash_v2", name=op.f("uq_torrents_info_hash_v2")),
        sa.UniqueConstraint("swarm_key", name=op.f("uq_torrents_swarm_key")),
        sa.CheckConstraint(
            "info_hash_v1 IS NOT NULL OR info_hash_v2 IS NOT NULL",
            name=op.f("ck_torrents_has_info_hash"),
        ),
        sa.CheckConstraint(
            "info_hash_v1 IS NULL OR length(info_hash_v1) = 20",
            name=op.f("ck_torrents_info_hash_v1_length"),
        ),
        sa.CheckConstraint(
            "info_hash_v2 IS NULL OR length(info_hash_v2) = 32",
            name=op.f("ck_torrents_info_hash_v2_length"),
        ),
        sa.CheckConstraint("length(swarm_key) = 20", name=op.f("ck_torrents_swarm_key_length")),
    )
    op.create_index(op.f("ix_torrents_created_at"), "torrents", ["created_at"])
    op.create_index(op.f("ix_torrents_size"), "torrents", ["size"])
    op.create_index(
        op.f("ix_torrents_category_id_created_at"), "torrents", ["category_id", "created_at"]
    )
    op.create_index(
        op.f("ix_torrents_uploader_id_created_at"), "torrents", ["uploader_id", "created_at"]
    )
    op.create_table(
        "torrent_files",
        sa.Column("torrent_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("torrent_id", "position", name=op.f("pk_torrent_files")),
        sa.ForeignKeyConstraint(
            ["torrent_id"],
            ["torrents.id"],
            name=op.f("fk_torrent_files_torrent_id_torrents"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "torrent_tags",
        sa.Column("torrent_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("torrent_id", "tag_id", name=op.f("pk_torrent_tags")),
        sa.ForeignKeyConstraint(
            ["torrent_id"],
            ["torrents.id"],
            name=op.f("fk_torrent_tags_torrent_id_torrents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_torrent_tags_tag_id_tags"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_torrent_tags_tag_id"), "torrent_tags", ["tag_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"])
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"])


def downgrade() -> None:
    for table in (
        "sessions",
        "api_tokens",
        "torrent_tags",
        "torrent_files",
        "torrents",
        "tags",
        "categories",
        "users",
    ):
        op.drop_table(table)  # its indexes go with it
