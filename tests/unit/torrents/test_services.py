"""The torrents service on a real, migrated SQLite database, with torrents from libtorrent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.bittorrent.bencode import decode, encode
from swarmdex.bittorrent.magnet import parse_magnet
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Category, Role, Torrent, TorrentFile, User, swarm_key
from swarmdex.search import services as search_index
from swarmdex.torrents import services
from swarmdex.torrents.parsing import ParsedTorrent
from swarmdex.torrents.services import UploadError, UploadTooLarge

from .support import TorrentFactory, add_user, async_test, count_rows, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

LIMIT = 1024 * 1024


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _upload(
    sessions: async_sessionmaker[AsyncSession], data: bytes, uploader: User, **fields: Any
) -> Torrent:
    fields.setdefault("category_slug", "linux")
    async with transaction(sessions) as session:
        return await services.upload(session, data=data, uploader=uploader, max_size=LIMIT, **fields)


async def _refused(
    sessions: async_sessionmaker[AsyncSession], data: bytes, uploader: User, **fields: Any
) -> UploadError:
    with pytest.raises(UploadError) as caught:
        await _upload(sessions, data, uploader, **fields)
    return caught.value


# --------------------------------------------------------------------------- categories


@async_test
async def test_default_categories_come_once_and_stay_gone_when_removed(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        async with sessions() as session:
            slugs = [c.slug for c in await services.categories(session)]
        assert slugs == [slug for slug, _ in services.DEFAULT_CATEGORIES]
        async with transaction(sessions) as session:
            await session.delete(await session.scalar(select(Category).where(Category.slug == "bsd")))
        async with transaction(sessions) as session:
            await services.ensure_default_categories(session)  # a restart
        async with sessions() as session:
            assert "bsd" not in [c.slug for c in await services.categories(session)]


# --------------------------------------------------------------------------- upload


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
@async_test
async def test_upload_keeps_the_info_dict_and_the_files(
    tmp_path: Path, make: TorrentFactory, version: str
) -> None:
    data = make({"album/cd1/01.flac": 70_000, "album/cover.png": 3_000}, version)
    meta = parse_torrent(data)
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(
            sessions, data, alice, title="  The   Album ", description="**great**",
            tags=["Lossless", "lossless", "open source"], anonymous=True,
        )
        async with sessions() as session:
            stored = await services.find(session, services.info_hash(torrent))
            assert stored is not None
            files = await services.files(session, stored, 10)
    assert stored.info_dict == meta.info_bytes
    assert stored.info_hash_v1 == meta.info_hash_v1 and stored.info_hash_v2 == meta.info_hash_v2
    if meta.info_hash_v1 is not None:
        assert hashlib.sha1(stored.info_dict).digest() == meta.info_hash_v1
    if meta.info_hash_v2 is not None:
        assert hashlib.sha256(stored.info_dict).digest() == meta.info_hash_v2
    assert (stored.title, stored.name, stored.description) == ("The Album", "album", "**great**")
    assert stored.category.slug == "linux" and stored.anonymous and stored.uploader_id == alice.id
    assert [tag.name for tag in stored.tags] == ["lossless", "open-source"]
    in_torrent_order = [("/".join(e.path[1:]), e.size) for e in meta.files if not e.padding]
    assert [(f.path, f.size) for f in files] == in_torrent_order
    assert sorted(in_torrent_order) == [("cd1/01.flac", 70_000), ("cover.png", 3_000)]
    assert (stored.size, stored.file_count, stored.piece_length) == (73_000, 2, 16_384)


@async_test
async def test_title_defaults_to_the_torrent_name(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(sessions, make({"ubuntu.iso": 20_000}, "v1"), alice, title="  ")
    assert torrent.title == "ubuntu.iso"


@async_test
async def test_upload_is_indexed_for_search(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(sessions, make(), alice, title="Findable Fennec")
        async with sessions() as session:
            page = await search_index.search(session, "fennec", page=1, per_page=10)
    assert [result.torrent.id for result in page.results] == [torrent.id]


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _with_info(data: bytes, **changes: object) -> bytes:
    top = decode(data)
    assert isinstance(top, dict)
    info = top[b"info"]
    assert isinstance(info, dict)
    for key, value in changes.items():
        info[key.replace("_", " ").encode()] = value
    return encode(top)


def _escaping_path(data: bytes) -> bytes:
    top = decode(data)
    assert isinstance(top, dict) and isinstance(top[b"info"], dict)
    files = top[b"info"][b"files"]
    assert isinstance(files, list) and isinstance(files[0], dict)
    files[0][b"path"] = [b"..", b"etc", b"passwd"]
    return encode(top)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda data: b"", "The file is empty"),
        (lambda data: b"<html>not a torrent</html>", "not a usable torrent file: not a bencoded dictionary"),
        (_truncated, "not a usable torrent file: not a valid torrent file: truncated"),
        (lambda data: _with_info(data, piece_length=1000), "piece length must be a power of two"),
        (_escaping_path, "escapes the torrent directory"),
        (lambda data: data + b"x" * LIMIT, "may be at most 1,048,576 bytes"),
    ],
    ids=["empty", "not-a-torrent", "truncated", "piece-length", "path-escape", "too-large"],
)
@async_test
async def test_bad_files_are_refused_with_the_reason(
    tmp_path: Path, make: TorrentFactory, spoil: Any, message: str
) -> None:
    data = spoil(make({"data/a.bin": 20_000, "data/b.bin": 5_000}, "v1"))
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        error = await _refused(sessions, data, alice)
        assert await count_rows(sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}
    assert message in error.message
    assert isinstance(error, UploadTooLarge) == (message.startswith("may be at most"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category_slug": "warez"}, "Unknown category 'warez'; choose one of: linux, bsd,"),
        ({"category_slug": ""}, "Choose a category: linux, bsd,"),
        ({"title": "x" * 256}, "The title is 256 characters long; at most 255 fit."),
        ({"tags": ["<script>"]}, "The tag '<script>' may use only letters"),
        ({"tags": [str(i) for i in range(11)]}, "11 tags given; at most 10"),
        ({"description": "a\x00b"}, "The description contains control characters."),
    ],
)
@async_test
async def test_bad_fields_are_refused_with_the_reason(
    tmp_path: Path, make: TorrentFactory, fields: dict[str, Any], message: str
) -> None:
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        error = await _refused(sessions, make(), alice, **fields)
        assert await count_rows(sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}
    assert message in error.message


# --------------------------------------------------------------------------- all or nothing


class Boom(Exception):
    pass


@async_test
async def test_a_failing_search_index_leaves_nothing(
    tmp_path: Path, make: TorrentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, torrent: Torrent, **_: object) -> None:
        raise Boom

    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        monkeypatch.setattr(search_index, "index_torrent", broken)
        with pytest.raises(Boom):
            await _upload(sessions, make(), alice, tags=["fresh"])
        assert await count_rows(sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}


@async_test
async def test_a_failing_file_insert_leaves_nothing(
    tmp_path: Path, make: TorrentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file row the database refuses (NOT NULL size) fails the last of several INSERTs.
    real = ParsedTorrent.rows

    def with_broken_row(self: ParsedTorrent, chunk: int) -> Iterator[list[tuple[str, Any]]]:
        yield from real(self, chunk)
        yield [("broken", None)]

    monkeypatch.setattr(ParsedTorrent, "rows", with_broken_row)
    monkeypatch.setattr(services, "FILE_ROWS_PER_INSERT", 1)
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        with pytest.raises(IntegrityError):
            await _upload(sessions, make(), alice, tags=["fresh"])
        assert await count_rows(sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}


# --------------------------------------------------------------------------- duplicates


@async_test
async def test_the_same_torrent_twice_points_at_the_first(tmp_path: Path, make: TorrentFactory) -> None:
    data = make()
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        first = await _upload(sessions, data, alice, title="First")
        error = await _refused(sessions, data, alice, title="Second")
    assert error.existing is not None and error.existing.id == first.id
    assert error.message == "This torrent is already on the site as “First”."


async def _insert_row(
    sessions: async_sessionmaker[AsyncSession], v1: bytes | None, v2: bytes | None
) -> int:
    """A torrent row holding the given hashes (as another upload would have stored it)."""
    async with transaction(sessions) as session:
        category = await session.scalar(select(Category).where(Category.slug == "other"))
        row = Torrent(
            info_hash_v1=v1, info_hash_v2=v2, swarm_key=swarm_key(v1, v2), title="Other",
            name="other", category=category, size=1, file_count=0, piece_length=16_384,
            info_dict=b"de", original_trackers=[],
        )
        session.add(row)
    return row.id


def _other(size: int) -> bytes:
    return hashlib.sha256(b"other").digest()[:size]


@pytest.mark.parametrize(
    ("version", "existing"),
    [
        # (what is uploaded, which hashes another torrent on the site has)
        ("hybrid", lambda v1, v2: (v1, None)),  # the v1 half alone
        ("hybrid", lambda v1, v2: (None, v2)),  # the v2 half alone
        ("v2", lambda v1, v2: (_other(20), v2)),  # a hybrid with this v2 hash
        ("v1", lambda v1, v2: (None, v1 + _other(12))),  # a v2 torrent announced as this v1
        ("hybrid", lambda v1, v2: (_other(20), v2[:20] + _other(12))),  # same truncated v2
    ],
    ids=["v1-half", "v2-half", "hybrid-with-this-v2", "v2-announced-as-this-v1", "truncated-v2"],
)
@async_test
async def test_sharing_an_announced_hash_is_a_duplicate(
    tmp_path: Path, make: TorrentFactory, version: str, existing: Any
) -> None:
    """Torrents that the tracker would put in one swarm cannot both be on the site."""
    data = make(version=version)
    meta = parse_torrent(data)
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        other = await _insert_row(sessions, *existing(meta.info_hash_v1, meta.info_hash_v2))
        error = await _refused(sessions, data, alice)
    assert error.existing is not None and error.existing.id == other


@async_test
async def test_a_deleted_torrent_can_be_uploaded_again(tmp_path: Path, make: TorrentFactory) -> None:
    data = make(trackers=(("http://old.example/announce",),))
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        bob = await add_user(sessions, "bob")
        old = await _upload(sessions, data, alice, title="Old", tags=["old"])
        async with transaction(sessions) as session:
            found = await services.find(session, services.info_hash(old))
            assert found is not None
            await services.delete(session, found)
        async with sessions() as session:
            assert await services.find(session, services.info_hash(old)) is None
            assert await services.find(session, services.info_hash(old), include_deleted=True)
            assert await services.listed_hashes(session) == []
        new = await _upload(sessions, data, bob, title="New")
        async with sessions() as session:
            rows = list(await session.scalars(select(Torrent)))
            assert await services.listed_hashes(session) == [(new.info_hash_v1, new.info_hash_v2)]
            files = list(await session.scalars(select(TorrentFile.torrent_id).distinct()))
    assert [(row.id, row.title, row.uploader_id) for row in rows] == [(new.id, "New", bob.id)]
    assert files == [new.id]


# --------------------------------------------------------------------------- lookup


@async_test
async def test_every_name_of_a_hybrid_finds_it(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(sessions, make(), alice)
        assert torrent.info_hash_v1 is not None and torrent.info_hash_v2 is not None
        names = [
            torrent.info_hash_v1.hex(),
            torrent.info_hash_v1.hex().upper(),
            torrent.info_hash_v2.hex(),
            torrent.info_hash_v2[:20].hex(),
        ]
        async with sessions() as session:
            found = [await services.find(session, name) for name in names]
            missing = [
                await services.find(session, name)
                for name in ("0" * 40, "0" * 64, "xyz", torrent.info_hash_v1.hex()[:39], " " + names[0])
            ]
    assert [t.id if t else None for t in found] == [torrent.id] * 4
    assert missing == [None] * 5
    assert services.info_hash(torrent) == torrent.info_hash_v1.hex()


@async_test
async def test_a_v2_torrent_is_named_by_its_truncated_hash(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(sessions, make(version="v2"), alice)
        assert torrent.info_hash_v2 is not None
        async with sessions() as session:
            by_short = await services.find(session, torrent.info_hash_v2[:20].hex())
            by_full = await services.find(session, torrent.info_hash_v2.hex())
    assert services.info_hash(torrent) == torrent.info_hash_v2[:20].hex()
    assert by_short is not None and by_full is not None and by_short.id == by_full.id == torrent.id


# --------------------------------------------------------------------------- download


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
@async_test
async def test_download_puts_the_site_trackers_first_and_keeps_the_hashes(
    tmp_path: Path, make: TorrentFactory, version: str
) -> None:
    site = ["http://site.test/announce", "udp://site.test:6969/announce"]
    original = (("udp://site.test:6969/announce", "http://a.example/announce"), ("http://b.example/",))
    data = make(version=version, trackers=original)
    async with database(tmp_path) as sessions:
        alice = await add_user(sessions, "alice")
        torrent = await _upload(sessions, data, alice)
    download = services.download_bytes(torrent, site)
    meta = parse_torrent(download)
    expected_tiers = ((*site,), ("http://a.example/announce",), ("http://b.example/",))
    assert meta.announce_list == expected_tiers and meta.announce == site[0]
    assert meta.info_bytes == parse_torrent(data).info_bytes
    hashes = lt.torrent_info(download).info_hashes()  # libtorrent reads the same torrent
    if torrent.info_hash_v1 is not None:
        assert bytes(hashes.v1.to_bytes()) == torrent.info_hash_v1
    if torrent.info_hash_v2 is not None:
        assert bytes(hashes.v2.to_bytes()) == torrent.info_hash_v2
    params = lt.load_torrent_buffer(download)
    assert list(params.trackers) == [url for tier in expected_tiers for url in tier]
    assert list(params.tracker_tiers) == [0, 0, 1, 2]

    link = parse_magnet(services.magnet(torrent, site))
    assert link.trackers == tuple(u for tier in expected_tiers for u in tier)
    assert (link.v1, link.v2, link.name, link.size) == (
        torrent.info_hash_v1, torrent.info_hash_v2, torrent.name, torrent.size,
    )


# --------------------------------------------------------------------------- delete


@pytest.mark.parametrize(
    ("role", "own", "allowed"),
    [
        (Role.USER, True, True),
        (Role.USER, False, False),
        (Role.TRUSTED, False, False),
        (Role.MODERATOR, False, True),
        (Role.ADMIN, False, True),
    ],
)
def test_who_may_delete(role: Role, own: bool, allowed: bool) -> None:
    user = User(id=1, name="u", role=role)
    torrent = Torrent(uploader_id=1 if own else 2)
    assert services.can_delete(user, torrent) is allowed
    assert services.can_delete(None, torrent) is False
