"""The `invites` (migration 0015_private), `member_torrents` (0016_accounting),
`torrent_factors` and `bonus_events` (0017_bonus) tables.

An invite code is shown once, to the member who makes it; only its SHA-256 is kept, so a
copy of the database lets nobody register. The invite tree is who used whose code:
`used_by_id` -> `created_by_id`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import IDS_NEVER_REUSED, Base, utcnow

__all__ = ["BonusEvent", "Invite", "MemberTorrent", "TorrentFactors"]


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


class MemberTorrent(Base):
    """One member's account of one torrent (private mode): what the tracker credited them,
    written by `swarmdex.private.accounting.flush` from the announces' ledger.

    `uploaded` and `downloaded` are what counts for the ratio (capped per second, later with
    freeleech and bonus rules); the raw columns keep what the client reported, for staff.
    `completed_at` is set once: the member's snatch.
    """

    __tablename__ = "member_torrents"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    torrent_id: Mapped[int] = mapped_column(
        ForeignKey("torrents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    uploaded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    downloaded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    uploaded_raw: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    downloaded_raw: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    seeding_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    completed_at: Mapped[datetime | None]
    seeder: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (f"MemberTorrent(user_id={self.user_id!r}, torrent_id={self.torrent_id!r}, "
                f"up={self.uploaded!r}, down={self.downloaded!r})")


class TorrentFactors(Base):
    """What a torrent's traffic counts for (private mode), when staff set it: downloads count
    `download_factor` of what was downloaded (0: freeleech, 0.5: half), uploads
    `upload_factor` of what was uploaded (2: double upload). No row: 1 and 1."""

    __tablename__ = "torrent_factors"

    torrent_id: Mapped[int] = mapped_column(
        ForeignKey("torrents.id", ondelete="CASCADE"), primary_key=True
    )
    download_factor: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    upload_factor: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class BonusEvent(Base):
    """A site-wide event (private mode): from `starts_at` to `ends_at` every torrent counts at
    most `download_factor` of downloads and at least `upload_factor` of uploads (the better of
    the event's and the torrent's own, for the member)."""

    __tablename__ = "bonus_events"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    download_factor: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    upload_factor: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
