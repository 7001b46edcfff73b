"""The `news_posts` and `news_comments` tables (migration 0005_news).

Declared on the shared `Base`, so the schema tests and Alembic see them with the core tables;
`swarmdex.db.migrate.all_models` imports this module by its name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swarmdex.comments.models import CommentFields
from swarmdex.db.models import IDS_NEVER_REUSED, Base, User, utcnow

__all__ = ["TITLE_LENGTH", "NewsComment", "NewsPost"]

TITLE_LENGTH = 200


class NewsPost(Base):
    """One post by the staff, in Markdown.

    The public sees it once it is no longer a draft *and* its `publish_at` has come: a post
    scheduled for tomorrow needs nobody to press a button tomorrow. Deleting a post deletes
    its comments; erasing its author's account keeps the post (it was the site speaking),
    without a name.
    """

    __tablename__ = "news_posts"
    __table_args__ = (
        # The public list: published posts, newest publish time first.
        Index("ix_news_posts_draft_publish_at", "draft", "publish_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    body: Mapped[str] = mapped_column(Text)  # Markdown source
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    draft: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    publish_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]

    author: Mapped[User | None] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"NewsPost(id={self.id!r}, title={self.title!r}, draft={self.draft!r})"


class NewsComment(CommentFields, Base):
    """One comment under one news post: the same columns and rules as a torrent's comments."""

    __tablename__ = "news_comments"
    __table_args__ = (
        Index("ix_news_comments_post_id_created_at", "post_id", "created_at"),
        IDS_NEVER_REUSED,
    )

    post_id: Mapped[int] = mapped_column(ForeignKey("news_posts.id", ondelete="CASCADE"))

    post: Mapped[NewsPost] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"NewsComment(id={self.id!r}, post_id={self.post_id!r}, author_id={self.author_id!r})"
