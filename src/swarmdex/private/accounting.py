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
import time
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db.engine import transaction
from swarmdex.db.models import UTCDateTime
from swarmdex.private.hitandrun import HitAndRunRule
from swarmdex.private.ratio import RatioRule, standing
from swarmdex.tracker.changes import Leech
from swarmdex.tracker.control import tell
from swarmdex.tracker.ledger import Credit, Ledger
from swarmdex.tracker.members import Members

__all__ = ["Accountant", "write"]

log = logging.getLogger("swarmdex.accounting")

# Rows per statement: executemany sends them in one round trip on either database.
BATCH: Final = 500

# SQLite (3.24+) and PostgreSQL share this upsert. The WHERE clause is also what lets SQLite
# parse an INSERT ... SELECT ... ON CONFLICT. Credit is multiplied here by the bonus rules in
# force when the member was last seen (`swarmdex.private.bonus`): the torrent's own factors
# and a running site-wide event's, whichever is better for the member. (CASE rather than
# GREATEST/LEAST or max/min, which the two databases spell differently.)
_UPSERT: Final = text("""
INSERT INTO member_torrents (user_id, torrent_id, uploaded, downloaded, uploaded_raw,
    downloaded_raw, seeding_seconds, completed_at, seeder, first_seen, last_seen)
SELECT :user_id, t.id,
    CAST(:uploaded * (CASE WHEN coalesce(f.upload_factor, 1) > coalesce(e.up, 1)
        THEN coalesce(f.upload_factor, 1) ELSE coalesce(e.up, 1) END) AS BIGINT),
    CAST(:downloaded * (CASE WHEN coalesce(f.download_factor, 1) < coalesce(e.down, 1)
        THEN coalesce(f.download_factor, 1) ELSE coalesce(e.down, 1) END) AS BIGINT),
    :uploaded_raw, :downloaded_raw, :seeding_seconds, :completed_at, :seeder, :seen, :seen
FROM torrents AS t
LEFT JOIN torrent_factors AS f ON f.torrent_id = t.id
LEFT JOIN (SELECT max(upload_factor) AS up, min(download_factor) AS down FROM bonus_events
           WHERE starts_at <= :seen AND ends_at > :seen) AS e ON 1 = 1
WHERE t.swarm_key = :swarm_key AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id)
ON CONFLICT (user_id, torrent_id) DO UPDATE SET
    uploaded = member_torrents.uploaded + excluded.uploaded,
    downloaded = member_torrents.downloaded + excluded.downloaded,
    uploaded_raw = member_torrents.uploaded_raw + excluded.uploaded_raw,
    downloaded_raw = member_torrents.downloaded_raw + excluded.downloaded_raw,
    seeding_seconds = member_torrents.seeding_seconds + excluded.seeding_seconds,
    completed_at = COALESCE(member_torrents.completed_at, excluded.completed_at),
    seeder = excluded.seeder,
    last_seen = excluded.last_seen
""").bindparams(bindparam("completed_at", type_=UTCDateTime()),
                bindparam("seen", type_=UTCDateTime()))


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _rows(credit: dict[tuple[int, bytes], Credit]) -> list[dict[str, object]]:
    return [
        {"user_id": user_id, "swarm_key": swarm, "uploaded": c.uploaded,
         "downloaded": c.downloaded, "uploaded_raw": c.uploaded_raw,
         "downloaded_raw": c.downloaded_raw, "seeding_seconds": c.seeding_seconds,
         "completed_at": _moment(c.completed_at), "seeder": c.seeder,
         "seen": _moment(c.last_seen)}
        for (user_id, swarm), c in sorted(credit.items())
    ]


async def write(session: AsyncSession, credit: dict[tuple[int, bytes], Credit]) -> None:
    """Add `credit` to the members' rows, in `session`'s transaction."""
    rows = _rows(credit)
    for start in range(0, len(rows), BATCH):
        await session.execute(_UPSERT, rows[start : start + BATCH])


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
        self.last_seconds = 0.0

    async def flush(self, now: float) -> int:
        """Write what the ledger gathered; returns the rows written (0: nothing to do)."""
        self.ledger.forget_stale(now)
        credit = self.ledger.take()
        if not credit:
            return 0
        started = time.perf_counter()
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
        self.last_seconds = time.perf_counter() - started
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
