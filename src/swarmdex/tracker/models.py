"""The `tracker_changes` table (migration 0013_tracker_changes): the durable change feed.

Declared on the shared `Base`, so the schema tests and Alembic see it with the core tables;
`swarmdex.db.migrate.all_models` imports this module by its name.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow
from swarmdex.tracker.changes import (
    Change,
    Closed,
    Leech,
    Listed,
    Member,
    Restored,
    TakenDown,
    Withdrawn,
)

__all__ = ["TrackerChange", "from_row", "to_row"]

# A ban for good, as a row stores it.
FOREVER: Final = datetime(9999, 1, 1, tzinfo=UTC)


class TrackerChange(Base):
    """One change every tracker node must apply (`swarmdex.tracker.control`), written in the
    transaction that made it, so that it exists if and only if that transaction committed.

    Ids only go up (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): a node follows the
    feed by the last id it applied. Rows hold torrent hashes, the site's closed notice and,
    in private mode, member ids with the SHA-256 of their passkey and the end of their ban. Old rows are pruned (`swarmdex.tracker.feed.prune`).
    """

    __tablename__ = "tracker_changes"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # listed, withdrawn, taken_down, restored, closed, member
    info_hash_v1: Mapped[bytes | None] = mapped_column(LargeBinary(20))
    info_hash_v2: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # restored: the torrent is on the site again.
    listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # closed: the tracker's failure reason; NULL opens again.
    reason: Mapped[str | None] = mapped_column(Text)
    # member (private mode): the account, the SHA-256 of its passkey (NULL: none serves),
    # the end of its ban (NULL: not banned; far in the future: for good).
    user_id: Mapped[int | None] = mapped_column(Integer)
    member_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    banned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def to_row(change: Change) -> TrackerChange:
    match change:
        case Listed(v1, v2):
            return TrackerChange(kind="listed", info_hash_v1=v1, info_hash_v2=v2)
        case Withdrawn(v1, v2):
            return TrackerChange(kind="withdrawn", info_hash_v1=v1, info_hash_v2=v2)
        case TakenDown(v1, v2):
            return TrackerChange(kind="taken_down", info_hash_v1=v1, info_hash_v2=v2)
        case Restored(v1, v2, listed):
            return TrackerChange(kind="restored", info_hash_v1=v1, info_hash_v2=v2, listed=listed)
        case Closed(reason):
            return TrackerChange(kind="closed", reason=reason)
        case Leech(user_id, refusal):
            return TrackerChange(kind="leech", user_id=user_id, reason=refusal)
        case Member(user_id, key, banned_until):
            return TrackerChange(kind="member", user_id=user_id, member_key=key,
                                 banned_until=_to_datetime(banned_until))
    raise TypeError(f"not a tracker change: {change!r}")


def from_row(row: TrackerChange) -> Change | None:
    """The change a row holds; None for a kind this version does not know (written by a
    newer swarmdex: skipped, and said so in the log)."""
    v1, v2 = row.info_hash_v1, row.info_hash_v2
    match row.kind:
        case "listed":
            return Listed(v1, v2)
        case "withdrawn":
            return Withdrawn(v1, v2)
        case "taken_down":
            return TakenDown(v1, v2)
        case "restored":
            return Restored(v1, v2, listed=row.listed)
        case "closed":
            return Closed(row.reason)
        case "leech" if row.user_id is not None:
            return Leech(row.user_id, row.reason)
        case "member" if row.user_id is not None:
            until = row.banned_until
            return Member(row.user_id, row.member_key, None if until is None else
                          math.inf if until >= FOREVER else until.timestamp())
    return None


def _to_datetime(moment: float | None) -> datetime | None:
    if moment is None:
        return None
    if moment == math.inf or moment >= FOREVER.timestamp():
        return FOREVER
    return datetime.fromtimestamp(moment, UTC)
