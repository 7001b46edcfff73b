"""Private mode: what `member_torrents` says about a member or a torrent, for the site to show.

Read-only: the tracker's accounting (`swarmdex.private.accounting`) is the only writer. Every
function here is one query (a page is one query for its rows, with their torrents or
members joined in, never one per row).

Definitions, the same on the pages and in the API:

- Ratio: credited upload / credited download. With nothing downloaded there is no ratio
  (None): the pages show "∞" when something was uploaded, a dash when nothing was, and the API
  answers null.
- Seeding now / leeching now: torrents whose last announce from the member is within the
  tracker's peer lifetime (`Settings.effective_peer_ttl`), split by whether that announce
  said the member had the whole torrent. A client that stopped counts until that lifetime
  passes, as its peer does in the swarm's counts.
- A snatch: a row with `completed_at`, the first time the member's client completed the
  torrent; snatch lists are newest snatch first.

Figures of torrents taken off the site stay in the totals: the transfer happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent, User
from swarmdex.private.models import MemberTorrent

__all__ = ["PER_PAGE", "Snatch", "SnatchPage", "Snatcher", "SnatcherPage", "Totals",
           "snatchers", "snatches", "totals"]

PER_PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class Totals:
    """A member's figures over every torrent they announced."""

    uploaded: int  # credited: what the ratio counts
    downloaded: int
    uploaded_raw: int  # as their clients reported: for staff
    downloaded_raw: int
    seeding: int  # torrents, now
    leeching: int
    snatches: int
    seeding_seconds: float

    @property
    def ratio(self) -> float | None:
        """uploaded / downloaded; None with nothing downloaded (see the module)."""
        return self.uploaded / self.downloaded if self.downloaded else None


@dataclass(frozen=True, slots=True)
class Snatch:
    """One torrent a member completed, and what they did in its swarm."""

    info_hash: str  # the torrent's public name, as in /t/{info_hash}
    title: str
    deleted: bool  # taken off the site since
    completed_at: datetime
    uploaded: int
    downloaded: int
    seeding_seconds: float
    seeding_now: bool


@dataclass(frozen=True, slots=True)
class SnatchPage:
    snatches: list[Snatch]
    page: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class Snatcher:
    """One member who completed a torrent (staff see these), with raw figures."""

    name: str
    completed_at: datetime
    uploaded: int
    downloaded: int
    uploaded_raw: int
    downloaded_raw: int
    seeding_seconds: float
    seeding_now: bool


@dataclass(frozen=True, slots=True)
class SnatcherPage:
    snatchers: list[Snatcher]
    page: int
    has_next: bool


def _present(now: datetime, ttl: timedelta, *, seeder: bool) -> ColumnElement[bool]:
    """Rows whose last announce is recent enough for the member's peer to be in the swarm."""
    return and_(MemberTorrent.last_seen >= now - ttl, MemberTorrent.seeder.is_(seeder))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0, type_=Integer)


async def totals(session: AsyncSession, user_id: int, *, now: datetime,
                 ttl: timedelta) -> Totals:
    """The member's totals; all zero for a member the tracker never credited."""
    mt = MemberTorrent
    row = (await session.execute(
        select(
            func.coalesce(func.sum(mt.uploaded), 0),
            func.coalesce(func.sum(mt.downloaded), 0),
            func.coalesce(func.sum(mt.uploaded_raw), 0),
            func.coalesce(func.sum(mt.downloaded_raw), 0),
            _count(_present(now, ttl, seeder=True)),
            _count(_present(now, ttl, seeder=False)),
            func.count(mt.completed_at),
            func.coalesce(func.sum(mt.seeding_seconds), 0.0),
        ).where(mt.user_id == user_id)
    )).one()
    return Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]),
                  int(row[5]), int(row[6]), float(row[7]))


def _done(completed_at: datetime | None) -> datetime:
    assert completed_at is not None  # the queries select snatches only
    return completed_at


def _offset(page: int, per_page: int) -> int:
    return (max(page, 1) - 1) * per_page


async def snatches(session: AsyncSession, user_id: int, *, now: datetime, ttl: timedelta,
                   page: int = 1, per_page: int = PER_PAGE) -> SnatchPage:
    """One page of the torrents the member completed, newest snatch first."""
    mt = MemberTorrent
    rows = (await session.execute(
        select(Torrent.swarm_key, Torrent.title, Torrent.deleted_at, mt.completed_at,
               mt.uploaded, mt.downloaded, mt.seeding_seconds,
               _present(now, ttl, seeder=True))
        .join(Torrent, Torrent.id == mt.torrent_id)
        .where(mt.user_id == user_id, mt.completed_at.is_not(None))
        .order_by(mt.completed_at.desc(), mt.torrent_id.desc())
        .offset(_offset(page, per_page))
        .limit(per_page + 1)  # one more tells whether there is a next page
    )).all()
    shown = [Snatch(key.hex(), title, deleted_at is not None, _done(done), up, down, seconds,
                    bool(seeding))
             for key, title, deleted_at, done, up, down, seconds, seeding in rows[:per_page]]
    return SnatchPage(shown, max(page, 1), len(rows) > per_page)


async def snatchers(session: AsyncSession, torrent_id: int, *, now: datetime, ttl: timedelta,
                    page: int = 1, per_page: int = PER_PAGE) -> SnatcherPage:
    """One page of the members who completed the torrent, newest snatch first."""
    mt = MemberTorrent
    rows = (await session.execute(
        select(User.name, mt.completed_at, mt.uploaded, mt.downloaded, mt.uploaded_raw,
               mt.downloaded_raw, mt.seeding_seconds, _present(now, ttl, seeder=True))
        .join(User, User.id == mt.user_id)
        .where(mt.torrent_id == torrent_id, mt.completed_at.is_not(None))
        .order_by(mt.completed_at.desc(), mt.user_id.desc())
        .offset(_offset(page, per_page))
        .limit(per_page + 1)
    )).all()
    shown = [Snatcher(name, _done(done), up, down, up_raw, down_raw, seconds, bool(seeding))
             for name, done, up, down, up_raw, down_raw, seconds, seeding in rows[:per_page]]
    return SnatcherPage(shown, max(page, 1), len(rows) > per_page)
