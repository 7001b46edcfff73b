"""The donation tables (migration 0006_donations): campaigns, their costs, the ledger.

Declared on the shared `Base`, so the schema tests and Alembic see them with the core
tables; `swarmdex.db.models` does not import this module.

Money is stored as integer minor units with its ISO 4217 code beside it (`money.py` says
why): never a float, never a sum of two currencies.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swarmdex.db.models import IDS_NEVER_REUSED, Base, utcnow

__all__ = ["Campaign", "CampaignCost", "Donation", "MessageStatus", "Period"]

TITLE_LENGTH = 200
LABEL_LENGTH = 120
NAME_LENGTH = 64  # as a user name
METHOD_LENGTH = 32
REFERENCE_LENGTH = 128


class Period(enum.StrEnum):
    """ONE_OFF: one goal, until a deadline. MONTHLY: the goal is the month's running costs,
    and starts again every calendar month (UTC)."""

    ONE_OFF = "one_off"
    MONTHLY = "monthly"


class MessageStatus(enum.StrEnum):
    """A donor's public message: shown on the donor wall only once staff approved it."""

    NONE = "none"  # no message
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    # As `User.role`: a VARCHAR with a CHECK, the same on SQLite and PostgreSQL.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=16,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class Campaign(Base):
    """A drive with a goal. A one-off campaign's goal is `goal_minor`, until `ends_at` (its
    deadline, required); a monthly campaign's goal is the sum of its costs, every month
    from `starts_at` until `ends_at` (if set)."""

    __tablename__ = "donation_campaigns"
    __table_args__ = (
        CheckConstraint("length(currency) = 3", name="currency_length"),
        CheckConstraint("goal_minor IS NULL OR goal_minor > 0", name="goal_positive"),
        CheckConstraint(
            "period != 'one_off' OR (goal_minor IS NOT NULL AND ends_at IS NOT NULL)",
            name="one_off_has_goal_and_deadline",
        ),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")  # Markdown
    currency: Mapped[str] = mapped_column(String(3))
    period: Mapped[Period] = mapped_column(_enum(Period, "donation_period"))
    goal_minor: Mapped[int | None] = mapped_column(BigInteger)  # one-off only
    # Indexed: "the campaign running now" is read on every view of the home page.
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    costs: Mapped[list[CampaignCost]] = relationship(
        order_by="CampaignCost.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
    )

    def __repr__(self) -> str:
        return f"Campaign(id={self.id!r}, title={self.title!r}, period={self.period!r})"


class CampaignCost(Base):
    """One line of a campaign's running costs ("Hosting", 40.00), in the campaign's
    currency: donors see where the money goes."""

    __tablename__ = "donation_costs"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("donation_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"CampaignCost(campaign_id={self.campaign_id!r}, label={self.label!r})"


class Donation(Base):
    """One entry of the ledger: money received (positive) or refunded (negative, naming
    the entry it refunds), in its own currency, which need not be the campaign's.

    Entries are never edited nor deleted: a mistake is put right by a refund entry, so the
    ledger always adds up to what happened. The payment `reference` is unique, which makes
    a repeated webhook notification harmless (several entries may have none: NULLs do not
    collide). A campaign with entries cannot be deleted (RESTRICT).
    """

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("length(currency) = 3", name="currency_length"),
        CheckConstraint(
            "(amount_minor > 0 AND refund_of_id IS NULL) "
            "OR (amount_minor < 0 AND refund_of_id IS NOT NULL)",
            name="refunds_negative",
        ),
        # Progress: a campaign's entries by date (monthly totals read one month).
        Index("ix_donations_campaign_id_received_at", "campaign_id", "received_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("donation_campaigns.id", ondelete="RESTRICT")
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[datetime]  # when the money arrived: what monthly totals go by
    # As the donor gave it; shown publicly only with `show_name`, else "Anonymous".
    donor_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    show_name: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    message_status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus, "donation_message_status"),
        default=MessageStatus.NONE,
        server_default=MessageStatus.NONE.value,
    )
    method: Mapped[str] = mapped_column(String(METHOD_LENGTH))  # "bank", "card", "webhook"...
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH), unique=True)
    refund_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("donations.id", ondelete="RESTRICT"), index=True
    )
    # Who typed it in; NULL for the webhook (or once that admin's account is erased).
    entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return (
            f"Donation(id={self.id!r}, amount_minor={self.amount_minor!r}, "
            f"currency={self.currency!r}, reference={self.reference!r})"
        )
