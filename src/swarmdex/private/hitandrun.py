"""Private mode's hit-and-run rule: who took and did not give back.

A member who downloaded more than `min_fraction` of a torrent (what their clients reported,
against the torrent's size) must seed it `seed_hours` within `within_days` of starting it.
Past that window without the hours, the torrent counts as a hit-and-run. Members see the ones
under way and the ones counted (warnings); from `limit` hit-and-runs on, they may not start
downloads (`swarmdex.private.ratio.standing` turns that into a `Leech` refusal), until they
seed the torrents they left (a hit-and-run stops counting once its hours are seeded).
`seed_hours = 0` turns the rule off.

Everything is computed from `member_torrents` as the accounting write leaves it, in SQL that
reads the same on SQLite and PostgreSQL (the window's start is computed here, not with the
databases' differing date functions).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.private.models import MemberTorrent

__all__ = ["HitAndRunRule", "Obligation", "counts", "obligations"]


@dataclass(frozen=True, slots=True)
class HitAndRunRule:
    seed_hours: float = 0.0  # 0: no rule
    within_days: float = 14.0
    min_fraction: float = 0.1
    limit: int = 3  # hit-and-runs from which downloads may not start

    @property
    def on(self) -> bool:
        return self.seed_hours > 0

    def refusal(self, count: int) -> str | None:
        if not self.on or count < self.limit:
            return None
        return (f"you have {count} hit-and-runs (torrents you downloaded and did not seed "
                f"{self.seed_hours:g} hours within {self.within_days:g} days): seed them to "
                "start new downloads")


@dataclass(frozen=True, slots=True)
class Obligation:
    """One torrent a member must seed: how long they have, how long they did."""

    torrent_id: int
    info_hash: str  # hex, as the site's addresses name the torrent
    title: str
    started: datetime
    deadline: datetime
    seeded_hours: float
    missed: bool  # past the deadline without the hours: a hit-and-run


def _owed(rule: HitAndRunRule) -> ColumnElement[bool]:
    return and_(Torrent.size > 0,
                MemberTorrent.downloaded_raw > rule.min_fraction * Torrent.size,
                MemberTorrent.seeding_seconds < rule.seed_hours * 3600)


async def counts(session: AsyncSession, rule: HitAndRunRule, now: datetime,
                 user_ids: Collection[int] | None = None) -> dict[int, int]:
    """Hit-and-runs per member (members with none are left out)."""
    if not rule.on:
        return {}
    window_start = now - timedelta(days=rule.within_days)
    query = (select(MemberTorrent.user_id, func.count())
             .join(Torrent, Torrent.id == MemberTorrent.torrent_id)
             .where(_owed(rule), MemberTorrent.first_seen <= window_start)
             .group_by(MemberTorrent.user_id))
    if user_ids is not None:
        query = query.where(MemberTorrent.user_id.in_(list(user_ids)))
    return {uid: int(n) for uid, n in await session.execute(query)}


async def obligations(session: AsyncSession, rule: HitAndRunRule, user_id: int,
                      now: datetime) -> list[Obligation]:
    """The member's torrents still to seed (under way) and missed (hit-and-runs), the
    nearest deadline first."""
    if not rule.on:
        return []
    rows = await session.execute(
        select(MemberTorrent.torrent_id, Torrent.info_hash_v1, Torrent.info_hash_v2,
               Torrent.title, MemberTorrent.first_seen, MemberTorrent.seeding_seconds)
        .join(Torrent, Torrent.id == MemberTorrent.torrent_id)
        .where(MemberTorrent.user_id == user_id, _owed(rule))
        .order_by(MemberTorrent.first_seen))
    window = timedelta(days=rule.within_days)
    return [Obligation(tid, (v1 or v2 or b"").hex(), title, started, started + window,
                       seconds / 3600, started + window <= now)
            for tid, v1, v2, title, started, seconds in rows]
