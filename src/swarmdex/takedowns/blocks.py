"""What a takedown blocks, asked by the upload service (swarmdex.torrents.services).

Kept apart from `services` (which uses the torrents services) so that the torrents package
can ask without an import cycle.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.takedowns.models import Notice, NoticeStatus, TakedownItem

__all__ = ["blocking", "taken_down", "upheld_notices"]

_SWARM_KEY_LENGTH = 20


def blocking() -> ColumnElement[bool]:
    """Items whose takedown stands: accepted, not restored."""
    return TakedownItem.taken_down_at.is_not(None) & TakedownItem.restored_at.is_(None)


def _named(digest: bytes) -> ColumnElement[bool]:
    if len(digest) == _SWARM_KEY_LENGTH:
        return or_(TakedownItem.info_hash_v1 == digest, TakedownItem.v2_truncated == digest)
    return TakedownItem.info_hash_v2 == digest


async def taken_down(session: AsyncSession, *digests: bytes | None) -> TakedownItem | None:
    """The standing takedown of a torrent named by any of `digests` (v1 20 bytes, v2 32
    bytes, truncated v2 20 bytes), if there is one."""
    named = [_named(d) for d in digests if d]
    if not named:
        return None
    query = select(TakedownItem).where(blocking(), or_(*named)).order_by(TakedownItem.id).limit(1)
    return (await session.scalars(query)).first()


async def upheld_notices(session: AsyncSession, user_id: int) -> int:
    """How many notices have a standing takedown of this uploader's torrents."""
    query = (
        select(func.count(func.distinct(TakedownItem.notice_id)))
        .join(Notice, Notice.id == TakedownItem.notice_id)
        .where(TakedownItem.uploader_id == user_id, blocking(),
               Notice.status == NoticeStatus.ACCEPTED)
    )
    return int(await session.scalar(query) or 0)
