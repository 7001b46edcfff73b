"""The `reports`, `user_bans` and `network_bans` tables (migration 0009_moderation).

Privacy by default: a report never keeps the reporter's address. It keeps their account (if
they were logged in) and, only if they typed one, a way to reach them (`reporter_contact`),
in a column of its own so that a retention purge can clear it without touching the report.

A report names what it is about by kind and id (`target_type` "torrent" or "comment",
`target_id`), not by foreign key: the queue keeps its history when a torrent's row is
replaced by a new upload, and reports outlive what they reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import EMAIL_LENGTH, IDS_NEVER_REUSED, Base, utcnow

__all__ = ["NETWORK_LENGTH", "NetworkBan", "Report", "UserBan"]

NETWORK_LENGTH: Final = 43  # "ffff:...:ffff/128": the longest IPv6 network in text


class Report(Base):
    """One visitor's report about one torrent or comment, and how staff resolved it.

    Open while `resolved_at` is None. Resolving an item closes all its open reports at once,
    with the same `resolution` ("hide", "delete", "edit", "remove", "dismiss") and note.
    """

    __tablename__ = "reports"
    __table_args__ = (
        # The queue's two reads: open reports, and every report about one item.
        Index("ix_reports_target", "target_type", "target_id"),
        Index("ix_reports_resolved_at_created_at", "resolved_at", "created_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16))  # "torrent" or "comment"
    target_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))  # a key of services.REASONS
    text: Mapped[str] = mapped_column(Text, default="", server_default="")  # plain text
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reporter_contact: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))  # purgeable
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    def __repr__(self) -> str:
        return f"Report(id={self.id!r}, {self.target_type}={self.target_id!r}, reason={self.reason!r})"


class UserBan(Base):
    """An account banned until `ends_at` (None: for good), for `reason`, which is shown to
    them. Lifting a ban sets `lifted_at`; the row stays, as the account's history."""

    __tablename__ = "user_bans"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None]
    banned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"UserBan(id={self.id!r}, user_id={self.user_id!r}, ends_at={self.ends_at!r})"


class NetworkBan(Base):
    """An address range (IPv4 or IPv6, in CIDR notation as `ipaddress` writes it) that may
    not register or upload. Removing one deletes the row; the audit log keeps the history."""

    __tablename__ = "network_bans"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(NETWORK_LENGTH), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"NetworkBan(id={self.id!r}, network={self.network!r})"
