"""Writing the tracker's ledger (`swarmdex.tracker.ledger`) to `member_torrents`.

Every tracker process in private mode keeps its credit in memory and writes it here every
`accounting_flush_seconds` (and once more at a clean shutdown), never once per announce:

- one transaction per flush, an additive upsert per (member, torrent): several nodes may
  credit the same row, and each adds its own share;
- rows in a fixed order (member, then swarm key), so that two nodes flushing at once take
  their row locks in the same order and never deadlock (on PostgreSQL write transactions
  also queue on one advisory lock, see `db.engine.transaction`);
- a torrent no longer on the site, or a member deleted meanwhile, is skipped;
- a flush that fails gives its credit back to the ledger, for the next flush to write.

So a crash loses at most the credit of one flush interval, which the README says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent, User
from swarmdex.private.hitandrun import HitAndRunRule
from swarmdex.private.models import BonusEvent, MemberTorrent, TorrentFactors
from swarmdex.private.ratio import RatioRule, standing
from swarmdex.tracker.changes import Leech
from swarmdex.tracker.control import tell
from swarmdex.tracker.ledger import Credit, Ledger
from swarmdex.tracker.members import Members

__all__ = ["Accountant", "write"]

log = logging.getLogger("swarmdex.accounting")

# Rows per executemany: a flush of many rows leaves the event loop between batches.
BATCH: Final = 2000
# Keys per IN (...) when looking up torrents and members.
LOOKUP: Final = 5000

_table = cast(Table, MemberTorrent.__table__)


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


async def _in_chunks(session: AsyncSession, query: Callable[[list[Any]], Any],
                     keys: list[Any]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(keys), LOOKUP):
        rows += (await session.execute(query(keys[start : start + LOOKUP]))).all()
    return rows


async def write(session: AsyncSession, credit: dict[tuple[int, bytes], Credit]) -> None:
    """Add `credit` to the members' rows, in `session`'s transaction.

    Each announce of a busy tracker is mostly a different (member, torrent) pair, so this
    costs about one row per announce and is written to be cheap per row: torrents and members
    are looked up once per write (a torrent no longer on the site, a member deleted meanwhile:
    skipped), the bonus factors (`swarmdex.private.bonus`: the torrent's own and a running
    site-wide event's, the better of each for the member) are applied here, and the rows go
    through one upsert statement that adds to what is there.
    """
    if not credit:
        return
    keys = sorted(credit)
    torrent_ids: dict[bytes, int] = dict(await _in_chunks(
        session, lambda chunk: select(Torrent.swarm_key, Torrent.id).where(
            Torrent.swarm_key.in_(chunk)), sorted({swarm for _, swarm in keys})))
    present = {uid for (uid,) in await _in_chunks(
        session, lambda chunk: select(User.id).where(User.id.in_(chunk)),
        sorted({uid for uid, _ in keys}))}
    own = {tid: (down, up) for tid, down, up in await _in_chunks(
        session, lambda chunk: select(TorrentFactors.torrent_id, TorrentFactors.download_factor,
                                      TorrentFactors.upload_factor)
        .where(TorrentFactors.torrent_id.in_(chunk)), sorted(set(torrent_ids.values())))}
    seen = [c.last_seen for c in credit.values()]
    events = (await session.execute(
        select(BonusEvent.starts_at, BonusEvent.ends_at, BonusEvent.download_factor,
               BonusEvent.upload_factor)
        .where(BonusEvent.ends_at > _moment(min(seen)), BonusEvent.starts_at <= _moment(max(seen)))
    )).all()
    rows: list[dict[str, object]] = []
    for user_id, swarm in keys:
        torrent_id = torrent_ids.get(swarm)
        if torrent_id is None or user_id not in present:
            continue
        c = credit[(user_id, swarm)]
        last_seen = _moment(c.last_seen)
        assert last_seen is not None
        down, up = own.get(torrent_id, (1.0, 1.0))
        for starts_at, ends_at, event_down, event_up in events:
            if starts_at <= last_seen < ends_at:
                down, up = min(down, event_down), max(up, event_up)
        rows.append({"user_id": user_id, "torrent_id": torrent_id,
                     "uploaded": int(c.uploaded * up), "downloaded": int(c.downloaded * down),
                     "uploaded_raw": c.uploaded_raw, "downloaded_raw": c.downloaded_raw,
                     "seeding_seconds": c.seeding_seconds,
                     "completed_at": _moment(c.completed_at), "seeder": c.seeder,
                     "first_seen": last_seen, "last_seen": last_seen})
    if not rows:
        return
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(_table)
    added = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[_table.c.user_id, _table.c.torrent_id],
        set_={
            "uploaded": _table.c.uploaded + added.uploaded,
            "downloaded": _table.c.downloaded + added.downloaded,
            "uploaded_raw": _table.c.uploaded_raw + added.uploaded_raw,
            "downloaded_raw": _table.c.downloaded_raw + added.downloaded_raw,
            "seeding_seconds": _table.c.seeding_seconds + added.seeding_seconds,
            "completed_at": func.coalesce(_table.c.completed_at, added.completed_at),
            "seeder": added.seeder,
            "last_seen": added.last_seen,
        })
    # One statement, compiled once, run for every row by the driver (executemany).
    for start in range(0, len(rows), BATCH):
        await session.execute(upsert, rows[start : start + BATCH])


class Accountant:
    """Flushes a tracker's ledger to the database (`Node` calls `flush` on a timer)."""

    def __init__(self, ledger: Ledger, sessions: async_sessionmaker[AsyncSession], *,
                 rule: RatioRule | None = None, hit_and_run: HitAndRunRule | None = None,
                 members: Members | None = None) -> None:
        """`rule`, `hit_and_run` and `members` (the tracker's): after each write, the members
        it credited whose standing changed are told to every node (and `recheck` finds the
        hit-and-run deadlines that pass with no announce at all)."""
        self.ledger = ledger
        self.sessions = sessions
        self.rule = rule or RatioRule()
        self.hit_and_run = hit_and_run or HitAndRunRule()
        self.members = members
        self.flushes = 0
        self.rows = 0

    async def flush(self, now: float) -> int:
        """Write what the ledger gathered; returns the rows written (0: nothing to do)."""
        self.ledger.forget_stale(now)
        credit = self.ledger.take()
        if not credit:
            return 0
        try:
            async with transaction(self.sessions) as session:
                await write(session, credit)
                await self._tell_flips(session, {user_id for user_id, _ in credit})
        except Exception:
            self.ledger.give_back(credit)
            log.exception("accounting: %d rows not written; they are kept for the next try",
                          len(credit))
            return 0
        self.flushes += 1
        self.rows += len(credit)
        return len(credit)

    @property
    def _rules_on(self) -> bool:
        return self.members is not None and (self.rule.on or self.hit_and_run.on)

    async def _tell_flips(self, session: AsyncSession, user_ids: set[int]) -> None:
        if not self._rules_on or self.members is None:
            return
        for change in await standing(session, self.rule, sorted(user_ids),
                                     hit_and_run=self.hit_and_run):
            if change.refusal != self.members.leech_refusal(change.user_id):
                tell(session, change)  # every node, this one at commit

    async def recheck(self) -> int:
        """Compare every member's standing with what the tracker knows and tell the flips
        (hit-and-run deadlines pass without an announce). Returns how many were told."""
        if not self._rules_on or self.members is None:
            return 0
        members = self.members
        try:
            async with transaction(self.sessions) as session:
                now = {c.user_id: c.refusal for c in await standing(
                    session, self.rule, hit_and_run=self.hit_and_run)}
                known = members.leech_refusals()
                flips = [Leech(uid, now.get(uid)) for uid in sorted(set(now) | set(known))
                         if now.get(uid) != known.get(uid)]
                for change in flips:
                    tell(session, change)
        except Exception:  # retried at the next round; the tracker keeps what it knows
            log.exception("accounting: the rules' recheck failed")
            return 0
        return len(flips)
