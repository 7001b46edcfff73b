"""Torrents on the site: the one place that writes them.

Pages and the JSON API both call these functions; handlers never touch the tables.

Transactions: the functions that write take a session inside `swarmdex.db.transaction()`
and never commit, so an upload (torrent, files, tags, search entry) is all or nothing.
The tracker is told through its port (`swarmdex.tracker.control.tell`) inside the same
transaction, and learns of the change once it commits: it never serves a torrent that a
rollback took back.

Hashes: a torrent is named by its v1 hash (40 hex), its v2 hash (64 hex) or its v2 hash
truncated to 20 bytes (40 hex, what v2 clients announce); all three find it. Its public
name (`info_hash`, used in URLs and the API) is its swarm key: the v1 hash, or the
truncated v2 hash for a v2-only torrent.

Duplicates: torrents that are on the site (not deleted) block an upload, and so do torrents
a moderator hid (until they are unhidden or deleted): nothing of a hidden torrent is
touched by an upload. Uploading a deleted torrent again replaces the deleted row (its
files, tags and comments go with it): the hashes are unique columns, and the new upload is
a new listing with its own title, description and uploader, not the old one brought back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from sqlalchemy import ColumnElement, insert, or_, select
from sqlalchemy import delete as delete_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from swarmdex import deceptive
from swarmdex.accounts.services import has_role
from swarmdex.audit import services as audit
from swarmdex.audit.models import AuditEntry
from swarmdex.bittorrent.bencode import encode
from swarmdex.bittorrent.magnet import make_magnet
from swarmdex.db.models import (
    Category,
    Role,
    Tag,
    Torrent,
    TorrentFile,
    User,
    swarm_key,
    utcnow,
)
from swarmdex.search import services as search_index
from swarmdex.takedowns import blocks as takedowns
from swarmdex.torrents import parsing
from swarmdex.torrents.fields import (
    UploadError,
    UploadTooLarge,
    clean_description,
    clean_tags,
    clean_title,
)
from swarmdex.torrents.parsing import ParsedTorrent, ParseLimits
from swarmdex.tracker.control import Listed, Withdrawn, tell

__all__ = [
    "DEFAULT_CATEGORIES",
    "NOT_PRIVATE",
    "OnlyTrackers",
    "UploadError",
    "UploadTooLarge",
    "can_delete",
    "categories",
    "delete",
    "download_bytes",
    "download_length",
    "ensure_default_categories",
    "files",
    "find",
    "info_hash",
    "is_hidden",
    "listed_hashes",
    "magnet",
    "parse_hash",
    "tracker_tiers",
    "upload",
]

DEFAULT_CATEGORIES: Final = (
    ("linux", "Linux"),
    ("bsd", "BSD"),
    ("datasets", "Data sets"),
    ("films", "Films"),
    ("music", "Music"),
    ("software", "Software"),
    ("games", "Games"),
    ("other", "Other"),
)

_HASH_RE: Final = re.compile(r"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}")
_SWARM_KEY_LENGTH: Final = 20
_V2_LENGTH: Final = 32
# Private mode refuses torrents that clients may share outside the tracker (BEP 27).
NOT_PRIVATE: Final = (
    "This site is private: upload a private torrent. Make it again with the private flag "
    "set (mktorrent -p, transmission-create --private, qBittorrent's \"Private torrent\" "
    "box), then download it back from here to seed it with your own passkey."
)
# File rows per INSERT: each costs the event loop ~1 ms of parameter processing.
FILE_ROWS_PER_INSERT: Final = 500


# --------------------------------------------------------------------------- categories


async def ensure_default_categories(session: AsyncSession) -> None:
    """Create the default categories on a site that has none yet (its first start).

    Only then: once an operator has renamed or deleted categories, a restart must not
    bring the defaults back.
    """
    if await session.scalar(select(Category.id).limit(1)) is not None:
        return
    session.add_all(
        Category(slug=slug, name=name, position=position)
        for position, (slug, name) in enumerate(DEFAULT_CATEGORIES)
    )


async def categories(session: AsyncSession) -> list[Category]:
    """Every category, in the operator's order."""
    result = await session.scalars(select(Category).order_by(Category.position, Category.name))
    return list(result)


# --------------------------------------------------------------------------- upload


async def upload(
    session: AsyncSession,
    *,
    data: bytes,
    uploader: User,
    category_slug: str,
    title: str | None = None,
    description: str = "",
    tags: Iterable[str] = (),
    anonymous: bool = False,
    max_size: int,
    limits: ParseLimits | None = None,
    repeat_infringer_notices: int = 0,
    private_only: bool = False,
) -> Torrent:
    """Put a .torrent on the site; raise `UploadError` saying what is wrong otherwise.

    The info dictionary is stored byte for byte (it is what the hashes are computed
    from) together with the file list, tags and a search entry, all in `session`'s
    transaction. The returned torrent has its category, uploader and tags loaded (not its
    files: there may be 100,000).

    Refused: a torrent taken down following a legal notice (even once its row is gone), a
    torrent a moderator hid, and any upload by someone with `repeat_infringer_notices`
    standing takedowns (0: no limit). With `private_only` (private mode), a torrent whose
    info dictionary lacks `private=1`: the site never rewrites the info dictionary, since
    that would change the torrent's hashes.

    The file is read in the parse worker's child process under `limits` (default: the
    settings' defaults with `max_size`), never on the event loop; its file rows go in
    `FILE_ROWS_PER_INSERT` at a time, so other requests are served in between.
    """
    if repeat_infringer_notices > 0:
        strikes = await takedowns.upheld_notices(session, uploader.id)
        if strikes >= repeat_infringer_notices:
            raise UploadError(
                f"You can no longer upload: {strikes} legal notices against your torrents were "
                f"upheld, and this site withdraws upload rights after {repeat_infringer_notices}."
            )
    meta = await parsing.worker().parse(data, limits or parsing.default_limits(max_size))
    if private_only and not meta.private:
        raise UploadError(NOT_PRIVATE)
    removed = await takedowns.taken_down(session, meta.info_hash_v1, meta.info_hash_v2)
    if removed is not None:
        raise UploadError(
            f"This torrent was removed following legal notice #{removed.notice_id} "
            "and cannot be uploaded again."
        )
    category = await _category(session, category_slug)
    shown_title = clean_title(title, meta.name)
    text = clean_description(description)
    tag_rows = await _tags(session, clean_tags(tags))
    await _make_room(session, meta)
    owner = await session.get(User, uploader.id)
    if owner is None:  # the account was deleted while its upload was being read
        raise UploadError("Your account no longer exists.")
    torrent = Torrent(
        info_hash_v1=meta.info_hash_v1,
        info_hash_v2=meta.info_hash_v2,
        swarm_key=swarm_key(meta.info_hash_v1, meta.info_hash_v2),
        title=shown_title,
        name=meta.name,
        description=text,
        category=category,
        uploader=owner,
        anonymous=anonymous,
        size=meta.total_size,
        file_count=meta.file_count,
        piece_length=meta.piece_length,
        info_dict=meta.info_bytes,
        original_trackers=[list(tier) for tier in meta.trackers],
        tags=tag_rows,
    )
    session.add(torrent)
    try:
        await session.flush()
    except IntegrityError:
        # Only a concurrent writer gets here (SQLite serialises write transactions, so
        # this is PostgreSQL): the same torrent or a new tag was added at the same moment.
        raise UploadError(
            "Another upload of this torrent or one of its tags happened at the same moment; "
            "please try again."
        ) from None
    await _insert_files(session, torrent, meta)
    await search_index.index_torrent(session, torrent, file_tokens=meta.file_tokens)
    tell(session, Listed(torrent.info_hash_v1, torrent.info_hash_v2))
    return torrent


async def _insert_files(session: AsyncSession, torrent: Torrent, meta: ParsedTorrent) -> None:
    """Bulk INSERTs of `FILE_ROWS_PER_INSERT` rows: a torrent may list 100,000 files, far
    too many for ORM objects, and one INSERT of them all would hold the event loop for the
    whole of SQLAlchemy's parameter processing. `torrent.files` stays unloaded."""
    position = 0
    for batch in meta.rows(FILE_ROWS_PER_INSERT):
        await session.execute(
            insert(TorrentFile),
            [
                {"torrent_id": torrent.id, "position": position + offset, "path": path,
                 "size": size}
                for offset, (path, size) in enumerate(batch)
            ],
        )
        position += len(batch)


async def _category(session: AsyncSession, slug: str) -> Category:
    category = await session.scalar(select(Category).where(Category.slug == slug.strip()))
    if category is not None:
        return category
    known = ", ".join(c.slug for c in await categories(session))
    if not slug.strip():
        raise UploadError(f"Choose a category: {known}.")
    raise UploadError(f"Unknown category {slug.strip()!r}; choose one of: {known}.")


async def _tags(session: AsyncSession, names: list[str]) -> list[Tag]:
    """Tag rows for `names` (already cleaned), created when new, in the given order."""
    if not names:
        return []
    found = {tag.name: tag for tag in await session.scalars(select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        if name not in found:
            found[name] = Tag(name=name)
            session.add(found[name])
    return [found[name] for name in names]


async def _make_room(session: AsyncSession, meta: ParsedTorrent) -> None:
    """Refuse a torrent already on the site; clear deleted rows that hold its hashes."""
    announced = _announced(meta.info_hash_v1, meta.info_hash_v2)
    rows = list(await session.scalars(select(Torrent).where(_announced_as(announced))))
    live = [row for row in rows if row.deleted_at is None]
    if live:
        # Out of the session, so that the rollback this error causes leaves it readable.
        session.expunge(live[0])
        raise UploadError(
            f"This torrent is already on the site as “{live[0].title}”.", existing=live[0]
        )
    for row in rows:
        if await is_hidden(session, row):
            # A moderator's hide must hold: uploading the file again would otherwise
            # replace the hidden row, its comments and the moderators' case with it.
            raise UploadError(
                "This torrent was hidden by the site's moderators and cannot be uploaded "
                "again while they look into it."
            )
    if rows:
        for row in rows:
            await search_index.remove(session, row.id)
        await session.execute(delete_rows(Torrent).where(Torrent.id.in_([row.id for row in rows])))


async def is_hidden(session: AsyncSession, torrent: Torrent) -> bool:
    """Whether the torrent is off the site because a moderator hid it (and nothing since,
    like a deletion, made that final). The audit log is where hiding is recorded."""
    if torrent.deleted_at is None:
        return False
    latest = await session.scalar(
        select(AuditEntry.action)
        .where(
            AuditEntry.target_type == "torrent",
            AuditEntry.target_id == info_hash(torrent),
            AuditEntry.action.in_(("torrent.hide", "torrent.unhide", "torrent.delete")),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return latest == "torrent.hide"


def _announced(v1: bytes | None, v2: bytes | None) -> list[bytes]:
    """The 20-byte hashes a torrent's peers announce: v1 and the truncated v2 (BEP 52)."""
    return [h for h in (v1, v2[:_SWARM_KEY_LENGTH] if v2 else None) if h is not None]


def _announced_as(hashes: Sequence[bytes]) -> ColumnElement[bool]:
    """Torrents announced under any of `hashes` (20 bytes each).

    The swarm key is the v1 hash or the truncated v2 hash of a v2-only torrent; a hybrid's
    truncated v2 hash is found as a prefix of its v2 hash, with a range on the unique
    index rather than a scan (both SQLite and PostgreSQL order blobs bytewise).
    """
    conditions: list[ColumnElement[bool]] = [Torrent.swarm_key.in_(hashes)]
    for prefix in hashes:
        low = prefix + bytes(_V2_LENGTH - _SWARM_KEY_LENGTH)
        high = prefix + b"\xff" * (_V2_LENGTH - _SWARM_KEY_LENGTH)
        conditions.append(Torrent.info_hash_v2.between(low, high))
    return or_(*conditions)


# --------------------------------------------------------------------------- lookup


def parse_hash(text: str) -> bytes | None:
    """The digest a 40- or 64-hex-digit string names (either case), else None."""
    return bytes.fromhex(text) if _HASH_RE.fullmatch(text) else None


def info_hash(torrent: Torrent) -> str:
    """The torrent's public name: v1 hex, or the truncated v2 hex for a v2-only torrent."""
    return torrent.swarm_key.hex()


async def find(session: AsyncSession, hash_hex: str, *, include_deleted: bool = False) -> Torrent | None:
    """The torrent named by 40-hex v1, 64-hex v2 or 40-hex truncated v2, with its category,
    uploader and tags loaded; deleted torrents only when asked."""
    digest = parse_hash(hash_hex)
    if digest is None:
        return None
    named = (
        Torrent.info_hash_v2 == digest if len(digest) == _V2_LENGTH else _announced_as([digest])
    )
    query = (
        select(Torrent)
        .where(named)
        .options(
            joinedload(Torrent.category),
            joinedload(Torrent.uploader),
            selectinload(Torrent.tags),
        )
        .order_by(Torrent.id)
    )
    if not include_deleted:
        query = query.where(Torrent.deleted_at.is_(None))
    return (await session.scalars(query)).first()


async def files(session: AsyncSession, torrent: Torrent, limit: int) -> list[TorrentFile]:
    """The torrent's first `limit` files, in its order (a torrent may have 100,000)."""
    query = (
        select(TorrentFile)
        .where(TorrentFile.torrent_id == torrent.id)
        .order_by(TorrentFile.position)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def listed_hashes(session: AsyncSession) -> list[tuple[bytes | None, bytes | None]]:
    """(v1, v2) of every torrent on the site: what the tracker serves in listed mode."""
    query = select(Torrent.info_hash_v1, Torrent.info_hash_v2).where(Torrent.deleted_at.is_(None))
    return [(v1, v2) for v1, v2 in await session.execute(query)]


# --------------------------------------------------------------------------- delete


def can_delete(user: User | None, torrent: Torrent) -> bool:
    """The uploader may delete their torrent; moderators and admins any torrent."""
    if user is None:
        return False
    return user.id == torrent.uploader_id or has_role(user, Role.MODERATOR)


async def delete(session: AsyncSession, torrent: Torrent, *, by: User | None = None,
                 note: str = "") -> None:
    """Take the torrent off the site (the row stays, marked deleted) and out of search.

    `torrent` must belong to `session`. Once this commits the tracker stops serving it. The
    audit log records who did it (its uploader, or staff), with `note` (a moderator's why).
    """
    torrent.deleted_at = utcnow()
    tell(session, Withdrawn(torrent.info_hash_v1, torrent.info_hash_v2))
    await search_index.remove(session, torrent.id)
    await audit.record(session, by, "torrent.delete", "torrent", info_hash(torrent),
                       before={"title": torrent.title, "uploader_id": torrent.uploader_id},
                       note=note)


# --------------------------------------------------------------------------- download


class OnlyTrackers(tuple[str, ...]):
    """Announce URLs that stand alone: the torrent's own trackers are left out. Private mode
    hands these out (a member's URLs with their passkey), since a private torrent must be
    announced to this site's tracker only."""


def tracker_tiers(torrent: Torrent, announce_urls: Sequence[str]) -> list[list[str]]:
    """The site's trackers as the first tier, then the uploaded tiers (unless the site's
    are `OnlyTrackers`); each URL once."""
    seen: set[str] = set()
    tiers: list[list[str]] = []
    others = () if isinstance(announce_urls, OnlyTrackers) else torrent.original_trackers
    for tier in (announce_urls, *others):
        kept = [url for url in dict.fromkeys(tier) if url not in seen]
        seen.update(kept)
        if kept:
            tiers.append(kept)
    return tiers


def download_bytes(torrent: Torrent, announce_urls: Sequence[str]) -> bytes:
    """The .torrent file to hand out: the stored info dictionary, byte for byte, with
    `tracker_tiers` as its trackers (`announce` and, for more than one URL, BEP 12's
    `announce-list`)."""
    # Keys sort as announce < announce-list < info, so the info dictionary goes last,
    # spliced in as stored: never decoded and re-encoded, its hashes cannot change (and
    # a 100,000-file torrent costs a copy, not a parse).
    return _download_head(torrent, announce_urls) + torrent.info_dict + b"e"


def download_length(torrent: Torrent, announce_urls: Sequence[str]) -> int:
    """len(download_bytes(...)), without loading the info dictionary (RSS enclosures)."""
    return len(_download_head(torrent, announce_urls)) + torrent.info_size + 1


def _download_head(torrent: Torrent, announce_urls: Sequence[str]) -> bytes:
    tiers = tracker_tiers(torrent, announce_urls)
    head: dict[bytes, object] = {}
    if tiers:
        head[b"announce"] = tiers[0][0]
        if sum(len(tier) for tier in tiers) > 1:
            head[b"announce-list"] = tiers
    return encode(head)[:-1] + b"4:info"


def magnet(torrent: Torrent, announce_urls: Sequence[str]) -> str:
    """A magnet link with the same trackers as the download."""
    return make_magnet(
        v1=torrent.info_hash_v1,
        v2=torrent.info_hash_v2,
        name=deceptive.visible(torrent.name),  # dn is only shown: written out as on the site
        trackers=[url for tier in tracker_tiers(torrent, announce_urls) for url in tier],
        size=torrent.size,
    )
