"""Private mode's bonus rules: freeleech and double upload, per torrent and site-wide.

A factor says what traffic counts for in the ratio: downloads count `download` of what was
downloaded (0: freeleech, 0.5: half), uploads `upload` of what was uploaded (2: double
upload). A torrent may have its own (moderators set them); a site-wide event (admins) applies
to every torrent from its start to its end. Where both apply, the member gets the better of
each. The tracker knows none of this: the accounting flush multiplies the credit it writes
(`swarmdex.private.accounting`), so an event's edges are as sharp as one flush interval.

Every change goes in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.audit import services as audit
from swarmdex.db.models import Torrent, User, utcnow
from swarmdex.moderation.services import ModerationError, NotFound, clean_text
from swarmdex.private.models import BonusEvent, TorrentFactors

__all__ = [
    "Factors",
    "add_event",
    "end_event",
    "events",
    "factored",
    "factors_now",
    "set_factors",
]

MAX_UPLOAD_FACTOR: Final = 10.0
NAME_MAX_CHARS: Final = 100


@dataclass(frozen=True, slots=True)
class Factors:
    download: float = 1.0
    upload: float = 1.0

    @property
    def plain(self) -> bool:
        return self.download == 1.0 and self.upload == 1.0

    def better(self, other: Factors) -> Factors:
        return Factors(min(self.download, other.download), max(self.upload, other.upload))


def _checked(factors: Factors) -> Factors:
    if not 0.0 <= factors.download <= 1.0:
        raise ModerationError("Downloads count from 0 (freeleech) to 1 (all of it).")
    if not 1.0 <= factors.upload <= MAX_UPLOAD_FACTOR:
        raise ModerationError(f"Uploads count from 1 to {MAX_UPLOAD_FACTOR:g} times.")
    return factors


async def set_factors(session: AsyncSession, torrent: Torrent, factors: Factors, *,
                      by: User) -> None:
    """Give `torrent` its own factors (1 and 1: none), in the caller's transaction."""
    _checked(factors)
    current = await session.get(TorrentFactors, torrent.id)
    before = None if current is None else {"download": current.download_factor,
                                           "upload": current.upload_factor}
    if factors.plain:
        await session.execute(delete(TorrentFactors).where(TorrentFactors.torrent_id == torrent.id))
    elif current is None:
        session.add(TorrentFactors(torrent_id=torrent.id, download_factor=factors.download,
                                   upload_factor=factors.upload, set_by_id=by.id))
    else:
        current.download_factor, current.upload_factor = factors.download, factors.upload
        current.set_by_id, current.set_at = by.id, utcnow()
    await audit.record(session, by, "torrent.factors", "torrent", torrent.id, before=before,
                       after={"download": factors.download, "upload": factors.upload,
                              "title": torrent.title})


async def add_event(session: AsyncSession, name: str, starts_at: datetime, ends_at: datetime,
                    factors: Factors, *, by: User) -> BonusEvent:
    """A site-wide event (admins), in the caller's transaction."""
    _checked(factors)
    name = clean_text(name, what="name", max_chars=NAME_MAX_CHARS)
    if not name:
        raise ModerationError("Give the event a name members will recognise.")
    if ends_at <= starts_at:
        raise ModerationError("An event must end after it starts.")
    if factors.plain:
        raise ModerationError("An event changes at least one factor.")
    event = BonusEvent(name=name, starts_at=starts_at, ends_at=ends_at,
                       download_factor=factors.download, upload_factor=factors.upload,
                       created_by_id=by.id)
    session.add(event)
    await session.flush()
    await audit.record(session, by, "bonus.add", "bonus_event", event.id, after=_shown(event))
    return event


async def end_event(session: AsyncSession, event_id: int, *, by: User,
                    now: datetime | None = None) -> BonusEvent:
    """End a running event now; one that has not started is removed."""
    now = now or utcnow()
    event = await session.get(BonusEvent, event_id)
    if event is None or event.ends_at <= now:
        raise NotFound("There is no such event running or to come.")
    before = _shown(event)
    if event.starts_at > now:
        await session.delete(event)
    else:
        event.ends_at = now
    await audit.record(session, by, "bonus.end", "bonus_event", event_id, before=before)
    return event


async def events(session: AsyncSession, now: datetime | None = None) -> list[BonusEvent]:
    """Events running or to come, soonest first."""
    now = now or utcnow()
    return list(await session.scalars(
        select(BonusEvent).where(BonusEvent.ends_at > now).order_by(BonusEvent.starts_at)))


async def factors_now(session: AsyncSession, torrent_id: int,
                      now: datetime | None = None) -> Factors:
    """What `torrent_id`'s traffic counts for now: its own and a running event's, the better."""
    now = now or utcnow()
    own = await session.get(TorrentFactors, torrent_id)
    factors = Factors() if own is None else Factors(own.download_factor, own.upload_factor)
    for event in await session.scalars(select(BonusEvent).where(
            BonusEvent.starts_at <= now, BonusEvent.ends_at > now)):
        factors = factors.better(Factors(event.download_factor, event.upload_factor))
    return factors


async def factored(session: AsyncSession) -> list[tuple[Torrent, Factors]]:
    """Torrents with factors of their own, most recently set first."""
    rows = await session.execute(
        select(Torrent, TorrentFactors).join(TorrentFactors, TorrentFactors.torrent_id == Torrent.id)
        .where(or_(TorrentFactors.download_factor != 1, TorrentFactors.upload_factor != 1))
        .order_by(TorrentFactors.set_at.desc()))
    return [(torrent, Factors(f.download_factor, f.upload_factor)) for torrent, f in rows]


def _shown(event: BonusEvent) -> dict[str, object]:
    return {"name": event.name, "starts_at": event.starts_at.isoformat(),
            "ends_at": event.ends_at.isoformat(), "download": event.download_factor,
            "upload": event.upload_factor}
