"""Private community mode: passkeys and RSS keys on accounts, invites, member changes in the
tracker feed.

Passkeys and RSS keys are made when first needed (`swarmdex.private.passkeys`), so existing
accounts get none here and a public site never has any.

Revision ID: 0015_private
Revises: 0014_postgresql
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_private"
down_revision: str | None = "0014_postgresql"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("passkey", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("rss_key", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_users_passkey"), "users", ["passkey"], unique=True)
    op.create_index(op.f("ix_users_rss_key"), "users", ["rss_key"], unique=True)

    with op.batch_alter_table("tracker_changes", recreate="never") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("member_key", sa.LargeBinary(length=32), nullable=True))
        batch.add_column(sa.Column("banned_until", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_invites_created_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["used_by_id"], ["users.id"],
                                name=op.f("fk_invites_used_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_invites_code_digest")),
        sa.UniqueConstraint("used_by_id", name=op.f("uq_invites_used_by_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_invites_created_by_id"), "invites", ["created_by_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invites_created_by_id"), table_name="invites")
    op.drop_table("invites")
    # ALTER TABLE ... DROP COLUMN, which SQLite has since 3.35: rebuilding the tables, as
    # batch mode would, loses their AUTOINCREMENT (0012_ids_never_reused).
    with op.batch_alter_table("tracker_changes", recreate="never") as batch:
        for column in ("banned_until", "member_key", "user_id"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_users_rss_key"), table_name="users")
    op.drop_index(op.f("ix_users_passkey"), table_name="users")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("rss_key")
        batch.drop_column("passkey")
