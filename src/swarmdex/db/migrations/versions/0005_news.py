"""News posts and their comments.

Revision ID: 0005_news
Revises: 0004_search_names
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_news"
down_revision: str | None = "0004_search_names"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "news_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("draft", sa.Boolean(), server_default=sa.true(), nullable=False),
        _timestamp("publish_at"),
        _timestamp("created_at"),
        _timestamp("edited_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_posts")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_news_posts_author_id_users"),
            ondelete="SET NULL",
        ),
    )
    op.create_index(op.f("ix_news_posts_draft_publish_at"), "news_posts", ["draft", "publish_at"])
    op.create_index(op.f("ix_news_posts_author_id"), "news_posts", ["author_id"])
    op.create_table(
        "news_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("edited_at", nullable=True),
        _timestamp("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_comments")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["news_posts.id"], name=op.f("fk_news_comments_post_id_news_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_news_comments_author_id_users"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        op.f("ix_news_comments_post_id_created_at"), "news_comments", ["post_id", "created_at"]
    )
    op.create_index(op.f("ix_news_comments_author_id"), "news_comments", ["author_id"])


def downgrade() -> None:
    op.drop_table("news_comments")  # its indexes go with it
    op.drop_table("news_posts")
