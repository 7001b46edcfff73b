"""Profile fields on accounts: display name, bio, e-mail address, upload and badge choices.

Every column has a server default (or is nullable), so existing accounts get an empty
profile: no display name (the account name shows), no bio, no address, nothing opted in.

Revision ID: 0007_profiles
Revises: 0006_donations
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_profiles"
down_revision: str | None = "0006_donations"
branch_labels: str | None = None
depends_on: str | None = None

FLAGS = ("anonymous_by_default", "show_donor_badge", "is_donor")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("display_name", sa.String(length=64), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("bio", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        for flag in FLAGS:
            batch.add_column(sa.Column(flag, sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for column in (*reversed(FLAGS), "email", "bio", "display_name"):
            batch.drop_column(column)
