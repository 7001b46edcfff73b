"""Notice-and-takedown: the one place that writes notices, decisions and counter-notices.

The flow:

1. Anyone files a notice (`file_notice`) naming torrents on the site; it waits in the queue.
2. Staff (moderators and admins) `accept` it, taking the torrents down, or `reject` it.
   A taken-down torrent is off the site (soft-deleted, out of search), its page is a stub
   answering 451, its hashes are refused by the tracker and by uploads.
3. The uploader may dispute it (`file_counter`); staff then `restore` the torrents or
   `uphold` the takedown.

Every decision is written to the audit log in the same transaction. Like the torrents
services, these functions never commit, and telling the tracker is the caller's job, after
the commit: `taken` / `restored` return the items whose hashes to block or serve again.

Uploaders with `repeat_infringer_notices` standing takedowns lose upload rights (checked by
`swarmdex.torrents.services.upload` through `swarmdex.takedowns.blocks`).

Privacy: the claimant's name, email and signature and the counter-notice's contact are for
staff only. `transparency` gives the public, redacted record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from swarmdex.audit import services as audit
from swarmdex.db.models import Torrent, User, utcnow
from swarmdex.search import services as search_index
from swarmdex.takedowns.blocks import blocking, taken_down, upheld_notices
from swarmdex.takedowns.models import (
    CounterNotice,
    CounterStatus,
    Notice,
    NoticeStatus,
    TakedownItem,
)
from swarmdex.torrents import services as torrents
from swarmdex.tracker.control import Restored, TakenDown, tell

__all__ = [
    "MAX_TORRENTS",
    "REMOVED",
    "CounterError",
    "CounterForm",
    "DecisionError",
    "NoticeError",
    "NoticeForm",
    "accept",
    "counter_notice",
    "counter_notices",
    "disputable",
    "file_counter",
    "file_notice",
    "for_uploader",
    "notice",
    "pending",
    "reject",
    "resolve_torrents",
    "restore",
    "standing_hashes",
    "taken_down",
    "transparency",
    "upheld_notices",
    "uphold",
]

MAX_TORRENTS: Final = 100
REMOVED: Final = "This torrent was removed following legal notice #{number}."
MAX_TEXT: Final = 10_000
MAX_NAME: Final = 200
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_EMAIL_ANYWHERE_RE: Final = re.compile(r"[^@\s<>()\[\]]+@[^@\s<>()\[\]]+\.[A-Za-z]{2,}")
_SITE_PATH_RE: Final = re.compile(r"/t/([0-9A-Fa-f]{64}|[0-9A-Fa-f]{40})(?![0-9A-Fa-f])")
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NoticeError(Exception):
    """What is wrong with a notice or counter-notice: field name -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


CounterError = NoticeError


class DecisionError(Exception):
    """A decision that cannot be taken (already decided); the message says why."""


def _clean(text: str, limit: int) -> str:
    """Plain text as sent, without control characters (newlines kept), trimmed."""
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n")).strip()[:limit]


def _line(text: str, limit: int = MAX_NAME) -> str:
    return " ".join(_clean(text, limit * 2).split())[:limit]


# --------------------------------------------------------------------------- notices


@dataclass
class NoticeForm:
    """A notice as typed into /notice."""

    claimant_name: str = ""
    organisation: str = ""
    email: str = ""
    work: str = ""
    torrents: str = ""  # one a line: a site URL /t/HASH or a 40/64-hex info hash
    good_faith: bool = False
    accurate: bool = False
    signature: str = ""


async def resolve_torrents(session: AsyncSession, text: str) -> tuple[list[Torrent], list[str]]:
    """The torrents on the site that the lines of `text` name, each once, and the lines that
    name none (as typed)."""
    found: dict[int, Torrent] = {}
    unknown: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _SITE_PATH_RE.search(line)
        hash_hex = match.group(1) if match else line
        torrent = await torrents.find(session, hash_hex)
        if torrent is None:
            unknown.append(line[:120])
        else:
            found.setdefault(torrent.id, torrent)
    return list(found.values()), unknown


async def file_notice(session: AsyncSession, form: NoticeForm) -> Notice:
    """Record a notice for the queue; raise `NoticeError` saying what to fix."""
    errors: dict[str, str] = {}
    name = _line(form.claimant_name)
    organisation = _line(form.organisation)
    email = _line(form.email, 254)
    work = _clean(form.work, MAX_TEXT)
    signature = _line(form.signature)
    if not name:
        errors["claimant_name"] = "Give your full name."
    if not _EMAIL_RE.fullmatch(email):
        errors["email"] = "Give an email address we can reach you at, like name@example.org."
    if not work:
        errors["work"] = "Describe the work you hold the rights to."
    found, unknown = await resolve_torrents(session, form.torrents)
    if unknown:
        errors["torrents"] = (
            "These lines name no torrent on this site: " + ", ".join(unknown)
            + ". Give each torrent's address (/t/…) or info hash, one a line."
        )
    elif not found:
        errors["torrents"] = "Name at least one torrent: its address (/t/…) or info hash."
    elif len(found) > MAX_TORRENTS:
        errors["torrents"] = f"A notice may name at most {MAX_TORRENTS} torrents."
    if not form.good_faith:
        errors["good_faith"] = "Confirm that you believe in good faith that the use is not authorised."
    if not form.accurate:
        errors["accurate"] = "Confirm that the notice is accurate and that you may act for the rights holder."
    if not signature:
        errors["signature"] = "Sign by typing your full name."
    if errors:
        raise NoticeError(errors)
    notice = Notice(claimant_name=name, organisation=organisation, email=email, work=work,
                    signature=signature)
    notice.items = [
        TakedownItem(
            torrent_id=t.id,
            uploader_id=t.uploader_id,
            title=t.title,
            swarm_key=t.swarm_key,
            info_hash_v1=t.info_hash_v1,
            info_hash_v2=t.info_hash_v2,
            v2_truncated=t.info_hash_v2[:20] if t.info_hash_v2 else None,
        )
        for t in found
    ]
    session.add(notice)
    await session.flush()
    return notice


async def notice(session: AsyncSession, notice_id: int) -> Notice | None:
    """A notice with its items."""
    query = select(Notice).where(Notice.id == notice_id).options(selectinload(Notice.items))
    return (await session.scalars(query)).first()


async def pending(session: AsyncSession) -> tuple[list[Notice], list[CounterNotice]]:
    """The review queue: undecided notices and counter-notices, oldest first."""
    notices = await session.scalars(
        select(Notice).where(Notice.status == NoticeStatus.PENDING)
        .options(selectinload(Notice.items)).order_by(Notice.id)
    )
    counters = await session.scalars(
        select(CounterNotice).where(CounterNotice.status == CounterStatus.PENDING)
        .options(selectinload(CounterNotice.user)).order_by(CounterNotice.id)
    )
    return list(notices), list(counters)


async def counter_notices(session: AsyncSession, notice_id: int) -> list[CounterNotice]:
    query = (
        select(CounterNotice).where(CounterNotice.notice_id == notice_id)
        .options(selectinload(CounterNotice.user)).order_by(CounterNotice.id)
    )
    return list(await session.scalars(query))


def _decide(record: Notice | CounterNotice, by: User, note: str) -> None:
    record.decided_at = utcnow()
    record.decided_by_id = by.id
    record.decision_note = _clean(note, MAX_TEXT)


def _hashes(item: TakedownItem) -> dict[str, str | None]:
    return {
        "title": item.title,
        "info_hash_v1": item.info_hash_v1.hex() if item.info_hash_v1 else None,
        "info_hash_v2": item.info_hash_v2.hex() if item.info_hash_v2 else None,
    }


async def accept(session: AsyncSession, notice: Notice, *, by: User, note: str = "") -> list[TakedownItem]:
    """Take the notice's torrents down: once this commits the tracker refuses their hashes
    in every mode. Returns the items. `notice` (items loaded) must belong to `session`."""
    if notice.status != NoticeStatus.PENDING:
        raise DecisionError(f"Notice #{notice.id} was already {notice.status.value}.")
    notice.status = NoticeStatus.ACCEPTED
    _decide(notice, by, note)
    now = utcnow()
    for item in notice.items:
        item.taken_down_at = now
        torrent = await session.get(Torrent, item.torrent_id) if item.torrent_id else None
        if torrent is not None and torrent.deleted_at is None:
            torrent.deleted_at = now
            await search_index.remove(session, torrent.id)
        tell(session, TakenDown(item.info_hash_v1, item.info_hash_v2))
    await audit.record(session, by, "takedown.accept", "notice", notice.id,
                       before={"status": NoticeStatus.PENDING.value},
                       after={"status": notice.status.value,
                              "torrents": [_hashes(item) for item in notice.items]},
                       note=notice.decision_note)
    return list(notice.items)


async def reject(session: AsyncSession, notice: Notice, *, by: User, note: str = "") -> None:
    if notice.status != NoticeStatus.PENDING:
        raise DecisionError(f"Notice #{notice.id} was already {notice.status.value}.")
    notice.status = NoticeStatus.REJECTED
    _decide(notice, by, note)
    await audit.record(session, by, "takedown.reject", "notice", notice.id,
                       before={"status": NoticeStatus.PENDING.value},
                       after={"status": notice.status.value}, note=notice.decision_note)


async def standing_hashes(session: AsyncSession) -> list[tuple[bytes | None, bytes | None]]:
    """(v1, v2) of every torrent whose takedown stands: what the tracker refuses."""
    query = select(TakedownItem.info_hash_v1, TakedownItem.info_hash_v2).where(blocking())
    return [(v1, v2) for v1, v2 in await session.execute(query)]


# --------------------------------------------------------------------------- uploaders


@dataclass(frozen=True)
class TakenDownTorrent:
    """One of an uploader's torrents that a notice took down."""

    notice_id: int
    title: str
    info_hash: str
    taken_down_at: datetime
    counter: CounterStatus | None  # their latest counter-notice on this notice, if any


async def for_uploader(session: AsyncSession, user: User) -> list[TakenDownTorrent]:
    """The user's torrents whose takedown stands, newest first (for their account page)."""
    items = await session.scalars(
        select(TakedownItem).where(TakedownItem.uploader_id == user.id, blocking())
        .order_by(TakedownItem.taken_down_at.desc(), TakedownItem.id)
    )
    counters = await session.scalars(
        select(CounterNotice).where(CounterNotice.user_id == user.id).order_by(CounterNotice.id)
    )
    latest = {c.notice_id: c.status for c in counters}
    out = []
    for item in items:
        assert item.taken_down_at is not None
        out.append(TakenDownTorrent(item.notice_id, item.title, item.swarm_key.hex(),
                                    item.taken_down_at, latest.get(item.notice_id)))
    return out


async def disputable(session: AsyncSession, notice: Notice, user: User) -> list[TakedownItem]:
    """The user's torrents that `notice` took down and that are still down."""
    if notice.status != NoticeStatus.ACCEPTED:
        return []
    return [item for item in notice.items if item.uploader_id == user.id and item.blocking]


@dataclass
class CounterForm:
    statement: str = ""
    contact: str = ""
    good_faith: bool = False
    signature: str = ""


async def file_counter(session: AsyncSession, notice: Notice, user: User,
                       form: CounterForm) -> CounterNotice:
    """The uploader disputes the takedown of their torrents in `notice`."""
    if not await disputable(session, notice, user):
        raise NoticeError({"notice": f"None of your torrents is down following notice #{notice.id}."})
    waiting = await session.scalar(
        select(CounterNotice.id).where(CounterNotice.notice_id == notice.id,
                                       CounterNotice.user_id == user.id,
                                       CounterNotice.status == CounterStatus.PENDING)
    )
    if waiting is not None:
        raise NoticeError({"notice": "Your counter-notice on this notice is already waiting for review."})
    errors: dict[str, str] = {}
    statement = _clean(form.statement, MAX_TEXT)
    contact = _line(form.contact, 254)
    signature = _line(form.signature)
    if not statement:
        errors["statement"] = "Say why the takedown is a mistake."
    if not _EMAIL_RE.fullmatch(contact):
        errors["contact"] = "Give an email address staff can reach you at."
    if not form.good_faith:
        errors["good_faith"] = "Confirm that you believe in good faith the torrent was removed by mistake."
    if not signature:
        errors["signature"] = "Sign by typing your full name."
    if errors:
        raise NoticeError(errors)
    counter = CounterNotice(notice_id=notice.id, user_id=user.id, statement=statement,
                            contact=contact, signature=signature)
    session.add(counter)
    await session.flush()
    return counter


async def counter_notice(session: AsyncSession, counter_id: int) -> CounterNotice | None:
    query = (
        select(CounterNotice).where(CounterNotice.id == counter_id)
        .options(selectinload(CounterNotice.user),
                 selectinload(CounterNotice.notice).selectinload(Notice.items))
    )
    return (await session.scalars(query)).first()


async def restore(session: AsyncSession, counter: CounterNotice, *, by: User,
                  note: str = "") -> list[tuple[TakedownItem, Torrent | None]]:
    """Undo the takedown the counter-notice disputes: its uploader's torrents come back to
    the site, search and the tracker (once this commits). Returns each restored item with
    its torrent (None if the row is gone). `counter` comes from `counter_notice`."""
    if counter.status != CounterStatus.PENDING:
        raise DecisionError(f"Counter-notice #{counter.id} was already {counter.status.value}.")
    counter.status = CounterStatus.RESTORED
    _decide(counter, by, note)
    now = utcnow()
    restored = []
    for item in counter.notice.items:
        if item.uploader_id != counter.user_id or not item.blocking:
            continue
        item.restored_at = now
        torrent = await session.get(Torrent, item.torrent_id) if item.torrent_id else None
        if torrent is not None and torrent.deleted_at is not None:
            torrent.deleted_at = None
            await search_index.index_torrent(session, torrent)
        on_site = torrent is not None and torrent.deleted_at is None
        tell(session, Restored(item.info_hash_v1, item.info_hash_v2, listed=on_site))
        restored.append((item, torrent))
    await audit.record(session, by, "takedown.restore", "notice", counter.notice_id,
                       before={"counter_notice": counter.id, "status": CounterStatus.PENDING.value},
                       after={"status": counter.status.value,
                              "torrents": [_hashes(item) for item, _ in restored]},
                       note=counter.decision_note)
    return restored


async def uphold(session: AsyncSession, counter: CounterNotice, *, by: User, note: str = "") -> None:
    if counter.status != CounterStatus.PENDING:
        raise DecisionError(f"Counter-notice #{counter.id} was already {counter.status.value}.")
    counter.status = CounterStatus.UPHELD
    _decide(counter, by, note)
    await audit.record(session, by, "takedown.uphold", "notice", counter.notice_id,
                       before={"counter_notice": counter.id, "status": CounterStatus.PENDING.value},
                       after={"status": counter.status.value}, note=counter.decision_note)


# --------------------------------------------------------------------------- transparency


@dataclass
class Month:
    month: str  # YYYY-MM
    notices: int = 0
    accepted: int = 0
    rejected: int = 0
    counter_notices: int = 0
    restorations: int = 0


@dataclass(frozen=True)
class PublicTorrent:
    title: str
    info_hash: str
    restored: bool


@dataclass(frozen=True)
class PublicNotice:
    """A notice as the public sees it: no names of individuals, no contact details."""

    number: int
    received: str  # YYYY-MM-DD
    claimant: str  # the organisation, or "an individual"
    works: str
    torrents: list[PublicTorrent]
    decision: str  # pending, accepted, rejected
    decided: str | None


@dataclass
class Report:
    months: list[Month] = field(default_factory=list)
    notices: list[PublicNotice] = field(default_factory=list)


def _redacted(text: str, *names: str) -> str:
    """`text` without email addresses or the given names (case-insensitive)."""
    text = _EMAIL_ANYWHERE_RE.sub("[email address removed]", text)
    for name in names:
        if name.strip():
            text = re.sub(re.escape(name.strip()), "[name removed]", text, flags=re.IGNORECASE)
    return text


async def transparency(session: AsyncSession) -> Report:
    """Every notice in redacted form, newest first, and the figures for each month."""
    notices = list(await session.scalars(
        select(Notice).options(selectinload(Notice.items)).order_by(Notice.id.desc())
    ))
    counters = list(await session.scalars(select(CounterNotice)))
    months: dict[str, Month] = {}

    def month(at: datetime) -> Month:
        key = at.strftime("%Y-%m")
        return months.setdefault(key, Month(key))

    report = Report()
    for n in notices:
        month(n.received_at).notices += 1
        if n.decided_at is not None and n.status == NoticeStatus.ACCEPTED:
            month(n.decided_at).accepted += 1
        elif n.decided_at is not None and n.status == NoticeStatus.REJECTED:
            month(n.decided_at).rejected += 1
        report.notices.append(PublicNotice(
            number=n.id,
            received=n.received_at.strftime("%Y-%m-%d"),
            claimant=n.organisation or "an individual",
            works=_redacted(n.work, n.claimant_name, n.signature),
            torrents=[PublicTorrent(i.title, i.swarm_key.hex(), i.restored_at is not None)
                      for i in n.items],
            decision=n.status.value,
            decided=n.decided_at.strftime("%Y-%m-%d") if n.decided_at else None,
        ))
    for c in counters:
        month(c.received_at).counter_notices += 1
        if c.decided_at is not None and c.status == CounterStatus.RESTORED:
            month(c.decided_at).restorations += 1
    report.months = [months[key] for key in sorted(months, reverse=True)]
    return report
