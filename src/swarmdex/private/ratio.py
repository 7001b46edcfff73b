"""Private mode's minimum ratio, and who may not start downloads (for it or for
hit-and-runs, `swarmdex.private.hitandrun`), and why.

Once a member has downloaded `min_ratio_after_gib` (credited), their ratio (credited upload /
credited download) must stay at `min_ratio` or above to start a download; seeding is never
refused, and it is how the ratio comes back. 0 turns the rule off.

The tracker learns it as `Leech` changes: all of them with the whole state at start, then
only the members whose standing flips, found by the accounting write for the members it just
credited (`swarmdex.private.accounting.Accountant`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import utcnow
from swarmdex.private.hitandrun import HitAndRunRule, counts
from swarmdex.private.models import MemberTorrent
from swarmdex.settings import Settings
from swarmdex.tracker.changes import Leech

__all__ = ["RatioRule", "hit_and_run_rule", "ratio_rule", "refusal_of", "standing"]

GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class RatioRule:
    minimum: float = 0.0  # 0: no rule
    after_bytes: int = 10 * GIB

    @property
    def on(self) -> bool:
        return self.minimum > 0

    def refusal(self, uploaded: int, downloaded: int) -> str | None:
        """The failure reason for starting a download at these totals; None if allowed."""
        if not self.on or downloaded < self.after_bytes or downloaded <= 0:
            return None
        ratio = uploaded / downloaded
        if ratio >= self.minimum:
            return None
        return (f"your ratio is {ratio:.2f}, under this site's minimum of {self.minimum:.2f}: "
                "seed what you have to raise it before starting new downloads")


def ratio_rule(settings: Settings) -> RatioRule:
    return RatioRule(settings.min_ratio, int(settings.min_ratio_after_gib * GIB))


def hit_and_run_rule(settings: Settings) -> HitAndRunRule:
    return HitAndRunRule(settings.hit_and_run_seed_hours, settings.hit_and_run_within_days,
                         settings.hit_and_run_min_fraction, settings.hit_and_run_limit)


async def refusal_of(session: AsyncSession, settings: Settings, user_id: int) -> str | None:
    """Why `user_id` may not start downloads now (what the tracker answers); None if they may."""
    (change,) = await standing(session, ratio_rule(settings), [user_id],
                               hit_and_run=hit_and_run_rule(settings))
    return change.refusal


async def standing(session: AsyncSession, rule: RatioRule,
                   user_ids: Collection[int] | None = None, *,
                   hit_and_run: HitAndRunRule | None = None) -> list[Leech]:
    """`Leech` for `user_ids` (each of them: refused or not), or for every member refused now
    when None (the whole state). The ratio's refusal first, then the hit-and-runs'."""
    found: dict[int, str | None] = {}
    if rule.on:
        query = select(MemberTorrent.user_id, func.sum(MemberTorrent.uploaded),
                       func.sum(MemberTorrent.downloaded)).group_by(MemberTorrent.user_id)
        if user_ids is not None:
            query = query.where(MemberTorrent.user_id.in_(list(user_ids)))
        else:
            query = query.having(func.sum(MemberTorrent.downloaded) >= rule.after_bytes)
        found = {uid: rule.refusal(int(up or 0), int(down or 0))
                 for uid, up, down in await session.execute(query)}
    if hit_and_run is not None and hit_and_run.on:
        for uid, count in (await counts(session, hit_and_run, utcnow(), user_ids)).items():
            found[uid] = found.get(uid) or hit_and_run.refusal(count)
    if user_ids is None:
        return [Leech(uid, why) for uid, why in sorted(found.items()) if why is not None]
    return [Leech(uid, found.get(uid)) for uid in user_ids]
