"""Comments under torrents: who may write, edit and remove them, and how they are read.

Rules:

- Any signed-in member in good standing may comment on a torrent that is on the site.
- A comment is Markdown, 1 to `MAX_CHARS` characters; it is stored as written (line endings
  normalised) and rendered through the sanitiser (`swarmdex.markup`) when shown.
- Its author may edit it for `EDIT_WINDOW` after posting: long enough to fix a typo, short
  enough that replies do not end up answering words that are no longer there.
- Its author may remove it at any time; so may moderators and admins, any comment. A removed
  comment keeps its place in the thread as "comment removed"; its text is erased.

Functions that change something raise `CommentError` (its subclasses say whether the
comment is missing or the user is not allowed); the message can be shown as it is.

The same rules hold for comments under news posts (`swarmdex.news.services`): `thread`,
`revise` and `remove` work on any table made of `CommentFields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload

from swarmdex.audit import services as audit
from swarmdex.comments.models import Comment, CommentFields
from swarmdex.db.models import Role, Torrent, User, utcnow

__all__ = [
    "EDIT_WINDOW",
    "MAX_CHARS",
    "CommentError",
    "CommentView",
    "NotAllowed",
    "NotFound",
    "add",
    "check_author",
    "clean_body",
    "delete",
    "edit",
    "for_torrent",
    "get",
    "may_delete",
    "may_edit",
    "remove",
    "revise",
    "thread",
]

MAX_CHARS: Final = 10_000
EDIT_WINDOW: Final = timedelta(minutes=15)

# Control characters other than tab and newlines: invisible, and some break feeds and XML.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ROLE_RANK: Final = {role: rank for rank, role in enumerate(Role)}  # Role lists them in order


class CommentError(ValueError):
    """A comment that cannot be added or changed; `str(error)` says why, to the user."""


class NotFound(CommentError):
    """No such comment, or its torrent is not on the site."""


class NotAllowed(CommentError):
    """The user may not do this to this comment (or not any more)."""


@dataclass(frozen=True, slots=True)
class CommentView:
    """A comment as pages show it (`comments/section.html`), with its author's name."""

    id: int
    thread_id: int  # the torrent's (or news post's) id
    author_id: int
    author_name: str
    author_role: Role
    body: str  # Markdown source; render with the `markdown` filter. "" when removed.
    created_at: datetime
    edited_at: datetime | None
    removed: bool

    @property
    def edit_until(self) -> datetime:
        return self.created_at + EDIT_WINDOW

    def editable_by(self, viewer: User | None) -> bool:
        """Whether `viewer` may edit it now (templates show the edit form accordingly)."""
        return may_edit(viewer, self.author_id, self.created_at, removed=self.removed)

    def removable_by(self, viewer: User | None) -> bool:
        return may_delete(viewer, self.author_id, removed=self.removed)


def _active(user: User | None) -> bool:
    return user is not None and user.disabled_at is None


def _at_least(user: User, role: Role) -> bool:
    return _ROLE_RANK[user.role] >= _ROLE_RANK[role]


def may_edit(
    user: User | None,
    author_id: int,
    created_at: datetime,
    *,
    removed: bool,
    now: datetime | None = None,
) -> bool:
    """Only the author, only within `EDIT_WINDOW` of posting, only while not removed.
    Moderators remove; they do not put words in other people's mouths."""
    if user is None or not _active(user) or removed or user.id != author_id:
        return False
    return (now or utcnow()) <= created_at + EDIT_WINDOW


def may_delete(user: User | None, author_id: int, *, removed: bool) -> bool:
    """The author, and moderators and admins, may remove a comment that is still there."""
    if user is None or not _active(user) or removed:
        return False
    return user.id == author_id or _at_least(user, Role.MODERATOR)


def clean_body(body: str, *, what: str = "comment", max_chars: int = MAX_CHARS) -> str:
    """The text to store, or CommentError: line endings as \\n, blank edges trimmed (leading
    spaces of the first line stay: they make a Markdown code block). News posts use it too:
    `what` names the text in the messages."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").rstrip().lstrip("\n")
    if not text.strip():
        raise CommentError(f"A {what} cannot be empty.")
    if _CONTROL.search(text):
        raise CommentError(f"The {what} contains control characters.")
    if len(text) > max_chars:
        raise CommentError(
            f"The {what} is {len(text):,} characters long; at most {max_chars:,} fit."
        )
    return text


async def for_torrent(session: AsyncSession, torrent_id: int) -> list[CommentView]:
    """The torrent's comments, oldest first, removed ones included (as placeholders)."""
    return await thread(session, Comment.torrent_id, torrent_id)


async def thread(
    session: AsyncSession, column: InstrumentedAttribute[int], thread_id: int
) -> list[CommentView]:
    """The comments whose `column` (`Comment.torrent_id`, `NewsComment.post_id`: a table made
    of `CommentFields`) is `thread_id`, oldest first, removed ones included (as placeholders)."""
    model = column.class_
    rows = await session.execute(
        select(model, User.name, User.role)
        .join(User, User.id == model.author_id)
        .where(column == thread_id)
        .order_by(model.created_at, model.id)
    )
    return [
        CommentView(
            id=comment.id,
            thread_id=thread_id,
            author_id=comment.author_id,
            author_name=name,
            author_role=role,
            body="" if comment.deleted_at is not None else comment.body,
            created_at=comment.created_at,
            edited_at=comment.edited_at,
            removed=comment.deleted_at is not None,
        )
        for comment, name, role in rows.all()
    ]


async def get(session: AsyncSession, comment_id: int) -> Comment | None:
    """The comment with its torrent loaded (pages link back to `comment.torrent`)."""
    return await session.scalar(
        select(Comment).options(joinedload(Comment.torrent)).where(Comment.id == comment_id)
    )


async def add(
    session: AsyncSession,
    *,
    torrent: Torrent,
    author: User,
    body: str,
    now: datetime | None = None,
) -> Comment:
    """A new comment by `author` under `torrent`."""
    check_author(author)
    if torrent.deleted_at is not None:
        raise NotFound("This torrent has been removed from the site.")
    comment = Comment(
        torrent_id=torrent.id,
        author_id=author.id,
        body=clean_body(body),
        created_at=now or utcnow(),
    )
    session.add(comment)
    await session.flush()
    return comment


def check_author(author: User) -> None:
    """NotAllowed unless `author` may write a new comment (anywhere)."""
    if not _active(author):
        raise NotAllowed("Your account cannot comment.")


async def _existing(session: AsyncSession, comment_id: int) -> Comment:
    comment = await get(session, comment_id)
    if comment is None:
        raise NotFound("There is no such comment.")
    return comment


async def edit(
    session: AsyncSession,
    comment_id: int,
    *,
    editor: User,
    body: str,
    now: datetime | None = None,
) -> Comment:
    """Replace the text of a comment, by its author within the edit window."""
    comment = await _existing(session, comment_id)
    if comment.torrent.deleted_at is not None:
        raise NotFound("This comment has been removed.")
    revise(comment, editor=editor, body=body, now=now)
    await session.flush()
    return comment


def revise(
    comment: CommentFields, *, editor: User, body: str, now: datetime | None = None
) -> None:
    """Replace the text of `comment` (of any table made of `CommentFields`) if the rules allow:
    by its author within the edit window. The caller flushes."""
    now = now or utcnow()
    if comment.deleted_at is not None:
        raise NotFound("This comment has been removed.")
    if not may_edit(editor, comment.author_id, comment.created_at, removed=False, now=now):
        if editor.id == comment.author_id:
            minutes = int(EDIT_WINDOW.total_seconds()) // 60
            raise NotAllowed(f"Comments can be edited for {minutes} minutes after posting.")
        raise NotAllowed("Only its author can edit a comment.")
    text = clean_body(body)
    if text != comment.body:  # saving the form unchanged does not mark it as edited
        comment.body = text
        comment.edited_at = now


async def delete(
    session: AsyncSession, comment_id: int, *, by: User, now: datetime | None = None
) -> Comment:
    """Remove a comment: by its author, or by a moderator or admin. Its text is erased;
    removing a removed comment changes nothing."""
    comment = await _existing(session, comment_id)
    await remove_logged(session, comment, "comment", by=by, now=now)
    return comment


async def remove_logged(session: AsyncSession, comment: CommentFields, kind: str, *, by: User,
                        now: datetime | None = None, note: str = "") -> None:
    """`remove`, then flush; a removal by staff (not the author) goes in the audit log as
    "KIND.remove", with the text that was removed (and `note`, a moderator's why)."""
    body, was_removed = comment.body, comment.deleted_at is not None
    remove(comment, by=by, now=now)
    await session.flush()
    if not was_removed and by.id != comment.author_id:
        await audit.record(session, by, f"{kind}.remove", kind, comment.id, before={"body": body},
                           note=note)


def remove(comment: CommentFields, *, by: User, now: datetime | None = None) -> None:
    """Remove `comment` (of any table made of `CommentFields`) if the rules allow: by its
    author, or by a moderator or admin; its text is erased. Removing a removed comment
    changes nothing. The caller flushes."""
    if comment.deleted_at is not None:
        return
    if not may_delete(by, comment.author_id, removed=False):
        raise NotAllowed("Only its author or a moderator can remove a comment.")
    comment.deleted_at = now or utcnow()
    comment.body = ""
