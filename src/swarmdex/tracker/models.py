"""The `tracker_changes` table (migration 0013_tracker_changes): the durable change feed.

Declared on the shared `Base`, so the schema tests and Alembic see it with the core tables;
`swarmdex.db.migrate.all_models` imports this module by its name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow
from swarmdex.tracker.changes import Change, Closed, Listed, Restored, TakenDown, Withdrawn

__all__ = ["TrackerChange", "from_row", "to_row"]


class TrackerChange(Base):
    """One change every tracker node must apply (`swarmdex.tracker.control`), written in the
    transaction that made it, so that it exists if and only if that transaction committed.

    Ids only go up (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): a node follows the
    feed by the last id it applied. Rows hold torrent hashes and the site's closed notice,
    nothing about people. Old rows are pruned (`swarmdex.tracker.feed.prune`).
    """

    __tablename__ = "tracker_changes"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # listed, withdrawn, taken_down, restored, closed
    info_hash_v1: Mapped[bytes | None] = mapped_column(LargeBinary(20))
    info_hash_v2: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # restored: the torrent is on the site again.
    listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # closed: the tracker's failure reason; NULL opens again.
    reason: Mapped[str | None] = mapped_column(Text)
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
    return None
