"""Reports and the moderation queue: what visitors may report, and how staff resolve it.

Rules:

- Anyone, logged in or not, may report a torrent or a comment that is on the site, for one
  of the fixed `REASONS`, with up to `TEXT_MAX_CHARS` of plain text (stored as typed, shown
  escaped: it is never rendered as Markdown) and, if they like, an email to reach them.
  The reporter's address is never stored; the pages rate-limit reports in memory.
- The queue shows each reported item once, oldest open report first, with its history: its
  reports (open and resolved) and the audit log's entries about it.
- Moderators and admins resolve an item with a note: a torrent is hidden (off the site and
  the tracker, reversibly: `unhide`), deleted, edited (title, category, description) or the
  reports dismissed; a comment is removed or the reports dismissed. Resolving closes every
  open report of that item, and goes in the audit log with the note.

The tracker is told through its port inside the same transaction (`Withdrawn` when a
torrent is hidden or deleted, `Listed` when it is unhidden) and learns of it on commit.

Functions that refuse raise `ModerationError` (its subclasses say whether the thing is
missing or the user not allowed); the message can be shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from swarmdex.accounts.services import has_role
from swarmdex.audit import services as audit
from swarmdex.audit.models import AuditEntry
from swarmdex.comments import services as comments
from swarmdex.comments.models import Comment
from swarmdex.db.models import EMAIL_LENGTH, Category, Role, Torrent, User, utcnow
from swarmdex.moderation.models import Report, UserBan
from swarmdex.search import services as search_index
from swarmdex.torrents import services as torrents
from swarmdex.torrents.fields import UploadError, clean_description, clean_title
from swarmdex.tracker.control import Listed, Withdrawn, tell

__all__ = [
    "COMMENT_RESOLUTIONS",
    "KINDS",
    "NOTE_MAX_CHARS",
    "REASONS",
    "TEXT_MAX_CHARS",
    "TORRENT_RESOLUTIONS",
    "Item",
    "ModerationError",
    "NotAllowed",
    "NotFound",
    "Resolved",
    "TorrentEdit",
    "active_ban",
    "check_acting_staff",
    "check_staff",
    "clean_contact",
    "clean_text",
    "file_report",
    "hidden_torrents",
    "item",
    "queue",
    "resolve_comment",
    "resolve_torrent",
    "unhide",
]

REASONS: Final = {
    "illegal": "Illegal content",
    "copyright": "Copyright infringement",
    "malware": "Malware",
    "spam": "Spam",
    "misleading": "Wrong category or misleading",
    "other": "Other",
}
KINDS: Final = ("torrent", "comment")
TORRENT_RESOLUTIONS: Final = ("hide", "delete", "edit", "dismiss")
COMMENT_RESOLUTIONS: Final = ("remove", "dismiss")
TEXT_MAX_CHARS: Final = 2000
NOTE_MAX_CHARS: Final = 2000
QUEUE_SIZE: Final = 50

# Control characters other than tab and newlines: invisible, and some break feeds and XML.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Enough to catch a typo; whether it reaches anyone is the reporter's business.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ModerationError(ValueError):
    """A report or resolution the site refuses; `str(error)` says why, to the user."""


class NotFound(ModerationError):
    """No such torrent, comment or ban, or it is not on the site."""


class NotAllowed(ModerationError):
    """The user's role does not allow this."""


def check_staff(user: User, role: Role = Role.MODERATOR) -> None:
    """NotAllowed unless `user` is an enabled account with `role` (or higher). The pages
    check roles too; this is the rule, so no caller can forget it."""
    if user.disabled_at is not None or not has_role(user, role):
        raise NotAllowed(f"Only the site's {role.value}s can do this.")


async def active_ban(session: AsyncSession, user_id: int, now: datetime | None = None) -> UserBan | None:
    """The ban in force on the account now, if any (the longest, should there be several)."""
    now = now or utcnow()
    bans = list(await session.scalars(
        select(UserBan).where(
            UserBan.user_id == user_id,
            UserBan.lifted_at.is_(None),
            (UserBan.ends_at.is_(None)) | (UserBan.ends_at > now),
        )
    ))
    if not bans:
        return None
    return max(bans, key=lambda ban: (ban.ends_at is None, ban.ends_at or now))


async def check_acting_staff(session: AsyncSession, user: User, role: Role = Role.MODERATOR,
                             now: datetime | None = None) -> None:
    """`check_staff`, and a ban binds staff too: a banned moderator or admin has no powers
    while the ban lasts, whoever calls (pages, API or command line)."""
    check_staff(user, role)
    if await active_ban(session, user.id, now) is not None:
        raise NotAllowed("Your account is banned: staff powers are suspended while the ban lasts.")


# --------------------------------------------------------------------------- reports


def clean_text(text: str | None, *, what: str = "report", max_chars: int = TEXT_MAX_CHARS) -> str:
    """Plain text to store: line endings as \\n, trimmed, no control characters, bounded."""
    cleaned = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(cleaned):
        raise ModerationError(f"The {what} contains control characters.")
    if len(cleaned) > max_chars:
        raise ModerationError(
            f"The {what} is {len(cleaned):,} characters long; at most {max_chars:,} fit."
        )
    return cleaned


def clean_contact(contact: str | None) -> str | None:
    """An optional email address: None when left empty."""
    cleaned = (contact or "").strip()
    if not cleaned:
        return None
    if len(cleaned) > EMAIL_LENGTH or not _EMAIL.fullmatch(cleaned):
        raise ModerationError("That does not look like an email address. It is optional.")
    return cleaned


async def file_report(
    session: AsyncSession,
    *,
    target_type: str,
    target_id: int,
    reason: str,
    text: str,
    contact: str | None = None,
    reporter: User | None = None,
    now: datetime | None = None,
) -> Report:
    """A new open report about the torrent or comment `target_id`, which must be on the site."""
    if reason not in REASONS:
        raise ModerationError("Pick one of the reasons listed.")
    body, email = clean_text(text), clean_contact(contact)
    if target_type == "torrent":
        torrent = await session.get(Torrent, target_id)
        if torrent is None or torrent.deleted_at is not None:
            raise NotFound("This torrent is not on the site.")
    elif target_type == "comment":
        comment = await comments.get(session, target_id)
        if comment is None or comment.deleted_at is not None or comment.torrent.deleted_at is not None:
            raise NotFound("This comment is not on the site.")
    else:
        raise NotFound("Only torrents and comments can be reported.")
    report = Report(
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        text=body,
        reporter_id=reporter.id if reporter is not None else None,
        reporter_contact=email,
        created_at=now or utcnow(),
    )
    session.add(report)
    await session.flush()
    return report


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True, slots=True)
class Item:
    """One reported torrent or comment, as the queue shows it."""

    target_type: str
    target_id: int
    torrent: Torrent | None  # the torrent, or the comment's torrent; None if its row is gone
    comment: Comment | None
    comment_author: str | None
    reports: Sequence[Report]  # every report about it, oldest first
    history: Sequence[AuditEntry]  # the audit log's entries about it, newest first
    hidden: bool = False  # a torrent hidden from the queue (unhide restores it)
    reporters: dict[int, str] = field(default_factory=dict)  # reporter id -> name

    @property
    def open_reports(self) -> list[Report]:
        return [r for r in self.reports if r.resolved_at is None]

    @property
    def earlier_reports(self) -> list[Report]:
        return [r for r in self.reports if r.resolved_at is not None]

    @property
    def gone(self) -> bool:
        """Off the site already (by its uploader, or another moderator)."""
        if self.target_type == "comment":
            return self.comment is None or self.comment.deleted_at is not None
        return self.torrent is None or self.torrent.deleted_at is not None


def audit_id(target_type: str, target_id: int, torrent: Torrent | None) -> str:
    """How the audit log names the item: a torrent by its info hash, a comment by its id."""
    if target_type == "torrent" and torrent is not None:
        return torrents.info_hash(torrent)
    return str(target_id)


async def queue(session: AsyncSession, *, limit: int = QUEUE_SIZE) -> list[Item]:
    """The items with open reports, the longest-waiting first."""
    waiting = await session.execute(
        select(Report.target_type, Report.target_id)
        .where(Report.resolved_at.is_(None))
        .group_by(Report.target_type, Report.target_id)
        .order_by(func.min(Report.created_at))
        .limit(limit)
    )
    return [await item(session, kind, target) for kind, target in waiting.all()]


async def item(session: AsyncSession, target_type: str, target_id: int) -> Item:
    """One torrent or comment with its reports and history."""
    comment: Comment | None = None
    author: str | None = None
    torrent: Torrent | None
    if target_type == "comment":
        comment = await session.scalar(
            select(Comment)
            .options(joinedload(Comment.torrent).joinedload(Torrent.category),
                     joinedload(Comment.author))
            .where(Comment.id == target_id)
        )
        torrent = comment.torrent if comment is not None else None
        author = comment.author.name if comment is not None else None
    else:
        torrent = await _torrent(session, target_id)
    reports = list(await session.scalars(
        select(Report)
        .where(Report.target_type == target_type, Report.target_id == target_id)
        .order_by(Report.created_at, Report.id)
    ))
    reporter_ids = {r.reporter_id for r in reports if r.reporter_id is not None}
    names: dict[int, str] = {}
    if reporter_ids:
        rows = await session.execute(select(User.id, User.name).where(User.id.in_(reporter_ids)))
        names = {user_id: name for user_id, name in rows.all()}
    history = (await audit.entries(session, audit.Filters(
        target_type=target_type, target_id=audit_id(target_type, target_id, torrent),
    ))).entries
    hidden = target_type == "torrent" and torrent is not None and await _is_hidden(session, torrent)
    return Item(target_type, target_id, torrent, comment, author, reports, history, hidden, names)


async def _torrent(session: AsyncSession, torrent_id: int) -> Torrent | None:
    """The torrent, on the site or not, with what the queue shows loaded."""
    return await session.scalar(
        select(Torrent)
        .options(joinedload(Torrent.category), joinedload(Torrent.uploader),
                 selectinload(Torrent.tags))
        .where(Torrent.id == torrent_id)
    )


async def _is_hidden(session: AsyncSession, torrent: Torrent) -> bool:
    """Whether the torrent is off the site because a moderator hid it (and nothing since,
    like a deletion, made that final)."""
    return await torrents.is_hidden(session, torrent)


async def hidden_torrents(session: AsyncSession, *, limit: int = QUEUE_SIZE) -> list[Torrent]:
    """Torrents moderators hid that are still hidden, most recently reported first: the
    queue offers to unhide them."""
    candidates = await session.scalars(
        select(Torrent)
        .join(Report, (Report.target_type == "torrent") & (Report.target_id == Torrent.id))
        .where(Report.resolution == "hide", Torrent.deleted_at.is_not(None))
        .group_by(Torrent.id)
        .order_by(func.max(Report.resolved_at).desc())
        .limit(limit)
    )
    return [t for t in candidates.all() if await _is_hidden(session, t)]


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True, slots=True)
class TorrentEdit:
    """What an "edit" resolution sets; the category by its slug."""

    title: str
    category: str
    description: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a resolution did: how many reports it closed, and the torrent it took off the
    site (hidden or deleted), if any."""

    closed: int
    removed: Torrent | None = None


async def _close(session: AsyncSession, target_type: str, target_id: int, *, by: User,
                 resolution: str, note: str, now: datetime) -> int:
    """Close every open report about the item; how many there were."""
    result = await session.execute(
        update(Report)
        .where(Report.target_type == target_type, Report.target_id == target_id,
               Report.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by_id=by.id, resolution=resolution,
                resolution_note=note)
    )
    return cast(CursorResult[Any], result).rowcount


async def _open_count(session: AsyncSession, target_type: str, target_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Report).where(
            Report.target_type == target_type, Report.target_id == target_id,
            Report.resolved_at.is_(None))
    )
    if not count:
        raise NotFound("There are no open reports about this any more: someone resolved them.")
    return count


async def resolve_torrent(
    session: AsyncSession,
    torrent_id: int,
    *,
    by: User,
    resolution: str,
    note: str = "",
    edit: TorrentEdit | None = None,
    now: datetime | None = None,
) -> Resolved:
    """Resolve the open reports about a torrent: hide, delete, edit or dismiss."""
    await check_acting_staff(session, by)
    if resolution not in TORRENT_RESOLUTIONS:
        raise ModerationError("Pick what to do with this torrent.")
    note = clean_text(note, what="note", max_chars=NOTE_MAX_CHARS)
    now = now or utcnow()
    await _open_count(session, "torrent", torrent_id)
    torrent = await _torrent(session, torrent_id)
    if torrent is None:
        raise NotFound("This torrent no longer exists; dismiss its reports.")
    key = torrents.info_hash(torrent)
    removed: Torrent | None = None
    if resolution == "dismiss":
        await audit.record(session, by, "report.dismiss", "torrent", key, note=note)
    elif torrent.deleted_at is not None:
        raise NotFound("This torrent is no longer on the site; dismiss its reports.")
    elif resolution == "hide":
        torrent.deleted_at = now
        await search_index.remove(session, torrent.id)
        await audit.record(session, by, "torrent.hide", "torrent", key,
                           before={"title": torrent.title}, note=note)
        tell(session, Withdrawn(torrent.info_hash_v1, torrent.info_hash_v2))
        removed = torrent
    elif resolution == "delete":
        await torrents.delete(session, torrent, by=by, note=note)
        removed = torrent
    else:
        await _edit(session, torrent, edit, by=by, note=note)
    closed = await _close(session, "torrent", torrent_id, by=by, resolution=resolution,
                          note=note, now=now)
    return Resolved(closed, removed)


async def _edit(session: AsyncSession, torrent: Torrent, edit: TorrentEdit | None, *,
                by: User, note: str) -> None:
    if edit is None:
        raise ModerationError("Say what the title, category and description should be.")
    try:
        title = clean_title(edit.title, torrent.name)
        description = clean_description(edit.description)
    except UploadError as exc:
        raise ModerationError(exc.message) from None
    category = await session.scalar(select(Category).where(Category.slug == edit.category))
    if category is None:
        raise ModerationError("There is no such category.")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, old, new in (("title", torrent.title, title),
                           ("category", torrent.category.slug, category.slug),
                           ("description", torrent.description, description)):
        if old != new:
            before[name], after[name] = old, new
    torrent.title, torrent.description = title, description
    torrent.category_id, torrent.category = category.id, category
    await session.flush()
    await search_index.index_torrent(session, torrent)
    await audit.record(session, by, "torrent.edit", "torrent", torrents.info_hash(torrent),
                       before=before, after=after, note=note)


async def unhide(session: AsyncSession, torrent_id: int, *, by: User, note: str = "") -> Torrent:
    """Bring back a torrent a moderator hid: on the site, in search and on the tracker
    again (once this commits)."""
    await check_acting_staff(session, by)
    note = clean_text(note, what="note", max_chars=NOTE_MAX_CHARS)
    torrent = await _torrent(session, torrent_id)
    if torrent is None or not await _is_hidden(session, torrent):
        raise NotFound("This torrent is not hidden.")
    duplicate = await torrents.find(session, torrents.info_hash(torrent))
    if duplicate is not None:  # uploaded again meanwhile: the hashes are unique
        raise ModerationError("This torrent is on the site again, uploaded anew.")
    torrent.deleted_at = None
    await session.flush()
    await search_index.index_torrent(session, torrent)
    await audit.record(session, by, "torrent.unhide", "torrent", torrents.info_hash(torrent),
                       after={"title": torrent.title}, note=note)
    tell(session, Listed(torrent.info_hash_v1, torrent.info_hash_v2))
    return torrent


async def resolve_comment(
    session: AsyncSession,
    comment_id: int,
    *,
    by: User,
    resolution: str,
    note: str = "",
    now: datetime | None = None,
) -> Resolved:
    """Resolve the open reports about a comment: remove it, or dismiss them."""
    await check_acting_staff(session, by)
    if resolution not in COMMENT_RESOLUTIONS:
        raise ModerationError("Pick what to do with this comment.")
    note = clean_text(note, what="note", max_chars=NOTE_MAX_CHARS)
    now = now or utcnow()
    await _open_count(session, "comment", comment_id)
    comment = await comments.get(session, comment_id)
    if resolution == "remove":
        if comment is None or comment.deleted_at is not None:
            raise NotFound("This comment is already gone; dismiss its reports.")
        await comments.remove_logged(session, comment, "comment", by=by, now=now, note=note)
    else:
        await audit.record(session, by, "report.dismiss", "comment", comment_id, note=note)
    closed = await _close(session, "comment", comment_id, by=by, resolution=resolution,
                          note=note, now=now)
    return Resolved(closed)
