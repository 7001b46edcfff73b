"""The `invites` table (migration 0015_private).

An invite code is shown once, to the member who makes it; only its SHA-256 is kept, so a
copy of the database lets nobody register. The invite tree is who used whose code:
`used_by_id` -> `created_by_id`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import IDS_NEVER_REUSED, Base, utcnow

__all__ = ["Invite"]


class Invite(Base):
    """One invite code: usable until `expires_at` unless used or revoked."""

    __tablename__ = "invites"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    used_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Invite(id={self.id!r}, created_by_id={self.created_by_id!r}, used_by_id={self.used_by_id!r})"
