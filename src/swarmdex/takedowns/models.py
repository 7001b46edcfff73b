"""The takedown tables (migration 0010_takedowns): notices, the torrents each names, and the
uploaders' counter-notices.

A notice keeps the claimant's contact details for staff (they never leave the review pages;
the transparency report shows a redacted form). Each torrent a notice names is one
`TakedownItem` carrying a copy of the torrent's hashes and title: the hashes stay blocked
(tracker, re-upload) even once the torrent's row is gone, and the public record keeps its
title. An item blocks while it is taken down and not restored.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swarmdex.db.models import IDS_NEVER_REUSED, SWARM_KEY_LENGTH, Base, User, utcnow

__all__ = ["CounterNotice", "CounterStatus", "Notice", "NoticeStatus", "TakedownItem"]

NAME_LENGTH = 200
EMAIL_LENGTH = 254
V2_LENGTH = 32


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CounterStatus(enum.StrEnum):
    PENDING = "pending"
    RESTORED = "restored"  # staff undid the takedown
    UPHELD = "upheld"  # staff kept it


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, name="status", native_enum=False, length=16, create_constraint=True,
                validate_strings=True, values_callable=lambda members: [m.value for m in members])


class Notice(Base):
    __tablename__ = "takedown_notices"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the public notice number
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimant_name: Mapped[str] = mapped_column(String(NAME_LENGTH))  # staff only
    organisation: Mapped[str] = mapped_column(String(NAME_LENGTH), default="", server_default="")
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))  # staff only
    work: Mapped[str] = mapped_column(Text)  # the work(s) concerned, as described
    signature: Mapped[str] = mapped_column(String(NAME_LENGTH))  # staff only
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus),
        default=NoticeStatus.PENDING, server_default=NoticeStatus.PENDING.value, index=True,
    )
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    items: Mapped[list[TakedownItem]] = relationship(
        back_populates="notice", lazy="raise_on_sql", order_by="TakedownItem.id"
    )
    decided_by: Mapped[User | None] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"Notice(id={self.id!r}, status={self.status!r})"


class TakedownItem(Base):
    """One torrent named by one notice."""

    __tablename__ = "takedown_items"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_notices.id", ondelete="CASCADE"), index=True
    )
    torrent_id: Mapped[int | None] = mapped_column(
        ForeignKey("torrents.id", ondelete="SET NULL"), index=True
    )
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    swarm_key: Mapped[bytes] = mapped_column(LargeBinary(SWARM_KEY_LENGTH), index=True)
    info_hash_v1: Mapped[bytes | None] = mapped_column(LargeBinary(SWARM_KEY_LENGTH), index=True)
    info_hash_v2: Mapped[bytes | None] = mapped_column(LargeBinary(V2_LENGTH), index=True)
    # The v2 hash cut to 20 bytes, what v2 clients announce: found by equality, not a range.
    v2_truncated: Mapped[bytes | None] = mapped_column(LargeBinary(SWARM_KEY_LENGTH), index=True)
    taken_down_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship(back_populates="items", lazy="raise_on_sql")

    @property
    def blocking(self) -> bool:
        return self.taken_down_at is not None and self.restored_at is None

    def __repr__(self) -> str:
        return f"TakedownItem(id={self.id!r}, notice_id={self.notice_id!r})"


class CounterNotice(Base):
    """An uploader disputing the takedown of their torrents named in one notice."""

    __tablename__ = "takedown_counter_notices"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_notices.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    statement: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(EMAIL_LENGTH))  # staff only
    signature: Mapped[str] = mapped_column(String(NAME_LENGTH))  # staff only
    status: Mapped[CounterStatus] = mapped_column(
        _enum(CounterStatus),
        default=CounterStatus.PENDING, server_default=CounterStatus.PENDING.value, index=True,
    )
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    notice: Mapped[Notice] = relationship(lazy="raise_on_sql")
    user: Mapped[User] = relationship(lazy="raise_on_sql", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"CounterNotice(id={self.id!r}, notice_id={self.notice_id!r})"
