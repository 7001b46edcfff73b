"""News posts: who may write them, when the public sees them, and their comments.

Rules:

- Staff (moderators and admins, in good standing) write, edit and delete posts. Everyone
  else, and the public, only reads them.
- A post is public once it is not a draft and its publish time has come. A post scheduled
  for later appears by itself: every read compares with the time of the read, nothing runs
  at the publish time. Until then only staff see it (marked as a draft or as scheduled).
- A title is one line of 1 to `TITLE_MAX` characters; a body is Markdown, 1 to `BODY_MAX`
  characters, rendered through the sanitiser (`swarmdex.markup`) when shown, like comments.
- Deleting a post deletes it and its comments: news is the site speaking, and staff may
  take back what it said. (Comments are removed one by one, leaving a placeholder.)
- Members comment on public posts by the rules of torrent comments
  (`swarmdex.comments.services`: the same limits, edit window and removal).

Functions that change something raise `CommentError` or one of its subclasses (`NotFound`,
`NotAllowed`): the message can be shown as it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from swarmdex.accounts.services import has_role
from swarmdex.audit import services as audit
from swarmdex.comments import services as comments
from swarmdex.comments.services import CommentError, CommentView, NotAllowed, NotFound
from swarmdex.db.models import Role, User, utcnow
from swarmdex.markup import plain_text
from swarmdex.news.models import TITLE_LENGTH, NewsComment, NewsPost

__all__ = [
    "BODY_MAX",
    "EXCERPT_CHARS",
    "PER_PAGE",
    "TITLE_MAX",
    "NewsPage",
    "PostForm",
    "add_comment",
    "comments_of",
    "delete",
    "delete_comment",
    "edit_comment",
    "excerpt",
    "get",
    "get_comment",
    "is_public",
    "is_staff",
    "latest",
    "listing",
    "parse_publish_at",
    "slug",
    "update",
    "visible_to",
    "write",
]

TITLE_MAX: Final = TITLE_LENGTH
BODY_MAX: Final = 100_000
EXCERPT_CHARS: Final = 240
PER_PAGE: Final = 10
SLUG_MAX: Final = 60

_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
# What <input type="datetime-local"> sends (seconds only when the page asked for them).
_LOCAL_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


def is_staff(user: User | None) -> bool:
    """Moderators and admins whose account is in good standing."""
    return user is not None and user.disabled_at is None and has_role(user, Role.MODERATOR)


def is_public(post: NewsPost, now: datetime | None = None) -> bool:
    return not post.draft and post.publish_at <= (now or utcnow())


def visible_to(post: NewsPost, viewer: User | None, now: datetime | None = None) -> bool:
    """Staff see every post (to edit drafts and scheduled ones); others, public ones only."""
    return is_public(post, now) or is_staff(viewer)


def slug(title: str) -> str:
    """The readable part of a post's address: "Tracker moved!" -> "tracker-moved". Only
    decoration: the id finds the post, so a slug may change with its title."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")[:SLUG_MAX].rstrip("-")


def excerpt(body: str, chars: int = EXCERPT_CHARS) -> str:
    """The start of a post as plain text, cut at a word, for lists and the home page."""
    text = plain_text(body)
    if len(text) <= chars:
        return text
    cut = text[:chars].rsplit(" ", 1)[0] or text[:chars]
    return cut.rstrip(" ,.;:-") + "…"


def parse_publish_at(text: str, now: datetime | None = None) -> datetime:
    """The publish time from the form's "YYYY-MM-DDTHH:MM" (UTC, as the form says); empty
    means now."""
    text = text.strip()
    if not text:
        return now or utcnow()
    if not _LOCAL_TIME.fullmatch(text):
        raise CommentError("Write the publish time as YYYY-MM-DD HH:MM (UTC).")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise CommentError("That publish time is not a date that exists.") from None


@dataclass(frozen=True, slots=True)
class PostForm:
    """What staff write; `clean` checks it and gives the values to store."""

    title: str
    body: str
    draft: bool
    publish_at: datetime

    def clean(self) -> PostForm:
        title = " ".join(self.title.split())  # one line: it is a heading, a <title>, a feed title
        if not title:
            raise CommentError("A news post needs a title.")
        if len(title) > TITLE_MAX:
            raise CommentError(f"A title can be at most {TITLE_MAX} characters long.")
        body = comments.clean_body(self.body, what="news post", max_chars=BODY_MAX)
        return PostForm(title, body, self.draft, self.publish_at)


def _check_staff(user: User) -> None:
    if not is_staff(user):
        raise NotAllowed("Only moderators and admins write news.")


@dataclass(frozen=True, slots=True)
class NewsPage:
    posts: list[NewsPost]  # authors loaded
    page: int
    has_next: bool


async def listing(
    session: AsyncSession,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    everything: bool = False,
    now: datetime | None = None,
) -> NewsPage:
    """Posts, newest publish time first: the public ones, or with `everything` (for staff)
    drafts and scheduled ones too."""
    query = select(NewsPost).options(joinedload(NewsPost.author))
    if not everything:
        query = query.where(NewsPost.draft.is_(False), NewsPost.publish_at <= (now or utcnow()))
    rows = (
        await session.scalars(
            query.order_by(NewsPost.publish_at.desc(), NewsPost.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)  # one more tells whether there is a next page
        )
    ).all()
    return NewsPage(list(rows[:per_page]), page, len(rows) > per_page)


async def latest(session: AsyncSession, count: int, now: datetime | None = None) -> list[NewsPost]:
    """The `count` newest public posts (the home page, the feed)."""
    return (await listing(session, per_page=count, now=now)).posts


async def get(session: AsyncSession, post_id: int) -> NewsPost | None:
    """The post with its author loaded, public or not: check `visible_to` before showing it."""
    return await session.scalar(
        select(NewsPost).options(joinedload(NewsPost.author)).where(NewsPost.id == post_id)
    )


async def _existing(session: AsyncSession, post_id: int) -> NewsPost:
    post = await get(session, post_id)
    if post is None:
        raise NotFound("There is no such news post.")
    return post


async def write(
    session: AsyncSession, *, author: User, form: PostForm, now: datetime | None = None
) -> NewsPost:
    """A new post by `author` (staff)."""
    _check_staff(author)
    values = form.clean()
    post = NewsPost(
        title=values.title,
        body=values.body,
        draft=values.draft,
        publish_at=values.publish_at,
        author_id=author.id,
        created_at=now or utcnow(),
    )
    session.add(post)
    await session.flush()
    await audit.record(session, author, "news.write", "news", post.id,
                       after={"title": post.title, "draft": post.draft})
    return post


async def update(
    session: AsyncSession,
    post_id: int,
    *,
    editor: User,
    form: PostForm,
    now: datetime | None = None,
) -> NewsPost:
    """Change a post (any staff member may edit any post: the site speaks, not a person)."""
    _check_staff(editor)
    post = await _existing(session, post_id)
    values = form.clean()
    before = {"title": post.title, "draft": post.draft, "publish_at": post.publish_at.isoformat()}
    if (post.title, post.body) != (values.title, values.body):
        post.edited_at = now or utcnow()  # shown as "edited"; publishing alone is no edit
    post.title, post.body = values.title, values.body
    post.draft, post.publish_at = values.draft, values.publish_at
    await session.flush()
    await audit.record(session, editor, "news.edit", "news", post.id, before=before,
                       after={"title": post.title, "draft": post.draft,
                              "publish_at": post.publish_at.isoformat()})
    return post


async def delete(session: AsyncSession, post_id: int, *, by: User) -> None:
    """Delete a post and its comments."""
    _check_staff(by)
    post = await _existing(session, post_id)
    await session.delete(post)
    await session.flush()
    await audit.record(session, by, "news.delete", "news", post_id, before={"title": post.title})


# Comments: the rules of `swarmdex.comments.services`, on `news_comments`.


async def comments_of(session: AsyncSession, post_id: int) -> list[CommentView]:
    """The post's comments, oldest first, removed ones included (as placeholders)."""
    return await comments.thread(session, NewsComment.post_id, post_id)


async def get_comment(session: AsyncSession, comment_id: int) -> NewsComment | None:
    """The comment with its post loaded (pages link back to `comment.post`)."""
    return await session.scalar(
        select(NewsComment)
        .options(joinedload(NewsComment.post))
        .where(NewsComment.id == comment_id)
    )


async def _comment(
    session: AsyncSession, comment_id: int, now: datetime | None = None
) -> NewsComment:
    comment = await get_comment(session, comment_id)
    if comment is None or not is_public(comment.post, now):
        raise NotFound("There is no such comment.")
    return comment


async def add_comment(
    session: AsyncSession,
    *,
    post: NewsPost,
    author: User,
    body: str,
    now: datetime | None = None,
) -> NewsComment:
    """A new comment by `author` under `post`, which must be public."""
    comments.check_author(author)
    now = now or utcnow()
    if not is_public(post, now):
        raise NotFound("This news post is not published.")
    comment = NewsComment(
        post_id=post.id, author_id=author.id, body=comments.clean_body(body), created_at=now
    )
    session.add(comment)
    await session.flush()
    return comment


async def edit_comment(
    session: AsyncSession,
    comment_id: int,
    *,
    editor: User,
    body: str,
    now: datetime | None = None,
) -> NewsComment:
    """Replace the text of a comment, by its author within the edit window."""
    comment = await _comment(session, comment_id, now)
    comments.revise(comment, editor=editor, body=body, now=now)
    await session.flush()
    return comment


async def delete_comment(
    session: AsyncSession, comment_id: int, *, by: User, now: datetime | None = None
) -> NewsComment:
    """Remove a comment: by its author, or by a moderator or admin."""
    comment = await get_comment(session, comment_id)
    if comment is None:
        raise NotFound("There is no such comment.")
    await comments.remove_logged(session, comment, "news_comment", by=by, now=now)
    return comment
