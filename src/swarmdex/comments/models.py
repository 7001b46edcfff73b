"""The `comments` table (migration 0003_comments_settings).

Declared on the shared `Base`, so the schema tests and Alembic see it with the core tables;
`swarmdex.db.models` does not import it, so whoever needs the full schema imports this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swarmdex.db.models import Base, Torrent, User, utcnow

__all__ = ["Comment"]


class Comment(Base):
    """One comment under one torrent, in Markdown.

    Removing a comment keeps its row (so the thread keeps its shape and its "comment removed"
    place) but empties `body`: whoever removed it wanted the words gone. Deleting a torrent's
    or an author's row deletes their comments with it; an erased account leaves nothing it
    wrote behind.
    """

    __tablename__ = "comments"
    __table_args__ = (
        # The one read that matters: a torrent's comments in the order they were written.
        Index("ix_comments_torrent_id_created_at", "torrent_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    torrent_id: Mapped[int] = mapped_column(ForeignKey("torrents.id", ondelete="CASCADE"))
    # Indexed for the cascade when an account is erased, and for "comments by this user".
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)  # Markdown source; "" once removed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    author: Mapped[User] = relationship(lazy="raise_on_sql")
    torrent: Mapped[Torrent] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"Comment(id={self.id!r}, torrent_id={self.torrent_id!r}, author_id={self.author_id!r})"
