"""Donation campaigns, their running costs and the ledger.

Revision ID: 0006_donations
Revises: 0005_news
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_donations"
down_revision: str | None = "0005_news"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16, create_constraint=True)


def upgrade() -> None:
    op.create_table(
        "donation_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period", _enum("donation_period", "one_off", "monthly"), nullable=False),
        sa.Column("goal_minor", sa.BigInteger(), nullable=True),
        _timestamp("starts_at"),
        _timestamp("ends_at", nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_donation_campaigns_currency_length")),
        sa.CheckConstraint(
            "goal_minor IS NULL OR goal_minor > 0", name=op.f("ck_donation_campaigns_goal_positive")
        ),
        sa.CheckConstraint(
            "period != 'one_off' OR (goal_minor IS NOT NULL AND ends_at IS NOT NULL)",
            name=op.f("ck_donation_campaigns_one_off_has_goal_and_deadline"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donation_campaigns")),
    )
    op.create_index(op.f("ix_donation_campaigns_starts_at"), "donation_campaigns", ["starts_at"])
    op.create_table(
        "donation_costs",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_donation_costs_amount_positive")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["donation_campaigns.id"],
            name=op.f("fk_donation_costs_campaign_id_donation_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "position", name=op.f("pk_donation_costs")),
    )
    op.create_table(
        "donations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _timestamp("received_at"),
        sa.Column("donor_name", sa.String(length=64), nullable=True),
        sa.Column("show_name", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "message_status",
            _enum("donation_message_status", "none", "pending", "approved", "rejected"),
            server_default="none",
            nullable=False,
        ),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("refund_of_id", sa.Integer(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_donations_currency_length")),
        sa.CheckConstraint(
            "(amount_minor > 0 AND refund_of_id IS NULL) "
            "OR (amount_minor < 0 AND refund_of_id IS NOT NULL)",
            name=op.f("ck_donations_refunds_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["donation_campaigns.id"],
            name=op.f("fk_donations_campaign_id_donation_campaigns"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["refund_of_id"],
            ["donations.id"],
            name=op.f("fk_donations_refund_of_id_donations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"],
            ["users.id"],
            name=op.f("fk_donations_entered_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
        sa.UniqueConstraint("reference", name=op.f("uq_donations_reference")),
    )
    op.create_index(
        op.f("ix_donations_campaign_id_received_at"), "donations", ["campaign_id", "received_at"]
    )
    op.create_index(op.f("ix_donations_refund_of_id"), "donations", ["refund_of_id"])
    op.create_index(op.f("ix_donations_entered_by_id"), "donations", ["entered_by_id"])


def downgrade() -> None:
    op.drop_table("donations")  # its indexes go with it
    op.drop_table("donation_costs")
    op.drop_table("donation_campaigns")
