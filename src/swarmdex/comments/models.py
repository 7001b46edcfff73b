"""The `comments` table (migration 0003_comments_settings), and the columns every comment
has wherever it hangs (`CommentFields`: news posts have comments too, in `swarmdex.news`).

Declared on the shared `Base`, so the schema tests and Alembic see it with the core tables;
`swarmdex.db.models` does not import it, so whoever needs the full schema imports this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swarmdex.db.models import IDS_NEVER_REUSED, Base, Torrent, User, utcnow

__all__ = ["Comment", "CommentFields"]


class CommentFields:
    """The columns of a comment, whatever it is written under. One set of rules
    (`swarmdex.comments.services`: edit window, removal) applies to every table made of them.

    Removing a comment keeps its row (so the thread keeps its shape and its "comment removed"
    place) but empties `body`: whoever removed it wanted the words gone. Deleting an author's
    row deletes their comments with it; an erased account leaves nothing it wrote behind.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed for the cascade when an account is erased, and for "comments by this user".
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)  # Markdown source; "" once removed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class Comment(CommentFields, Base):
    """One comment under one torrent, in Markdown (see `CommentFields`). Deleting a torrent's
    row deletes its comments with it."""

    __tablename__ = "comments"
    __table_args__ = (
        # The one read that matters: a torrent's comments in the order they were written.
        Index("ix_comments_torrent_id_created_at", "torrent_id", "created_at"),
        IDS_NEVER_REUSED,
    )

    torrent_id: Mapped[int] = mapped_column(ForeignKey("torrents.id", ondelete="CASCADE"))

    author: Mapped[User] = relationship(lazy="raise_on_sql")
    torrent: Mapped[Torrent] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"Comment(id={self.id!r}, torrent_id={self.torrent_id!r}, author_id={self.author_id!r})"
