"""The tables' rules, enforced by the database itself (a migrated SQLite file)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from swarmdex.db import session_factory, transaction
from swarmdex.db.models import (
    ApiToken,
    Category,
    LoginSession,
    Role,
    Tag,
    Torrent,
    TorrentFile,
    User,
    fold_name,
    secret_digest,
    swarm_key,
    torrent_tags,
)

from .conftest import async_test, open_engine

INFO = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:" + bytes(20) + b"e"
V1 = hashlib.sha1(INFO).digest()
V2 = hashlib.sha256(INFO).digest()


def torrent(category: Category, *, v1: bytes | None = V1, v2: bytes | None = None, **kw: Any) -> Torrent:
    fields: dict[str, Any] = {
        "info_hash_v1": v1,
        "info_hash_v2": v2,
        "swarm_key": swarm_key(v1, v2) if (v1 or v2) else bytes(20),
        "title": "A file",
        "name": "a.txt",
        "category": category,
        "size": 5,
        "file_count": 1,
        "piece_length": 16384,
        "info_dict": INFO,
    }
    return Torrent(**(fields | kw))


async def seeded(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """A user and a category; their ids."""
    async with transaction(sessions) as session:
        user = User(name="Alice", password_hash="$argon2id$...")
        category = Category(slug="software", name="Software")
        session.add_all([user, category])
    return user.id, category.id


async def count(sessions: async_sessionmaker[AsyncSession], table: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


# helpers of the models


def test_fold_name_ignores_case_and_width() -> None:
    assert fold_name("Alice") == fold_name("ALICE") == fold_name("\uff21\uff2c\uff29\uff23\uff25") == "alice"
    assert fold_name("Straße") == fold_name("STRASSE")
    assert fold_name("alice") != fold_name("alicé")


def test_swarm_key_is_v1_else_truncated_v2() -> None:
    assert swarm_key(V1, None) == V1
    assert swarm_key(V1, V2) == V1
    assert swarm_key(None, V2) == V2[:20]
    with pytest.raises(ValueError, match="v1 hash, a v2 hash"):
        swarm_key(None, None)


def test_secret_digest_is_sha256() -> None:
    assert secret_digest("token") == hashlib.sha256(b"token").digest()
    assert secret_digest(b"token") == secret_digest("token")


# users


@async_test
async def test_user_names_are_unique_ignoring_case(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        await seeded(sessions)
        async with sessions() as session:
            alice = await session.scalar(select(User))
            assert alice is not None
            assert (alice.name, alice.name_key, alice.role) == ("Alice", "alice", Role.USER)
        for clash in ("alice", "ALICE", "\uff21lice"):
            with pytest.raises(IntegrityError, match=r"users\.name_key|uq_users_name_key"):
                async with transaction(sessions) as session:
                    session.add(User(name=clash, password_hash="x"))
        assert await count(sessions, User) == 1


@async_test
async def test_renaming_a_user_keeps_the_key_in_step(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        user_id, _ = await seeded(sessions)
        async with transaction(sessions) as session:
            user = await session.get_one(User, user_id)
            user.name = "Alicia"
        async with sessions() as session:
            assert (await session.get_one(User, user_id)).name_key == "alicia"


@async_test
async def test_roles_are_stored_by_value_and_checked(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            session.add(User(name="mod", password_hash="x", role=Role.MODERATOR))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT role FROM users"))).scalar() == "moderator"
        with pytest.raises(IntegrityError, match=r"(CHECK constraint failed|violates check constraint).*ck_users_role"):
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO users (name, name_key, password_hash, role, created_at)"
                         " VALUES ('x', 'x', 'x', 'overlord', '2030-01-01 00:00:00')")
                )
        with pytest.raises(StatementError, match="overlord"):
            async with transaction(sessions) as session:
                session.add(User(name="y", password_hash="x", role="overlord"))


# torrents


@async_test
async def test_torrent_round_trips_exactly(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        user_id, category_id = await seeded(sessions)
        tiers = [["udp://tracker.example:6969/announce"], ["https://other.example/announce"]]
        async with transaction(sessions) as session:
            category = await session.get_one(Category, category_id)
            added = torrent(category, v2=V2, uploader_id=user_id, original_trackers=tiers)
            session.add(added)
        async with sessions() as session:
            found = await session.scalar(select(Torrent).where(Torrent.swarm_key == V1))
            assert found is not None
            assert found.info_dict == INFO
            assert (found.info_hash_v1, found.info_hash_v2) == (V1, V2)
            assert found.original_trackers == tiers
            assert (found.description, found.anonymous, found.deleted_at) == ("", False, None)
            assert found.created_at.tzinfo is UTC


@pytest.mark.parametrize("which", ["info_hash_v1", "info_hash_v2", "swarm_key"])
@async_test
async def test_duplicate_hashes_are_refused(url: str, which: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        _, category_id = await seeded(sessions)
        async with transaction(sessions) as session:
            session.add(torrent(await session.get_one(Category, category_id), v2=V2))
        other_v1, other_v2 = hashlib.sha1(b"other").digest(), hashlib.sha256(b"other").digest()
        clash = {
            "info_hash_v1": {"v1": V1, "v2": other_v2, "swarm_key": hashlib.sha1(b"k").digest()},
            "info_hash_v2": {"v1": other_v1, "v2": V2},
            "swarm_key": {"v1": other_v1, "v2": other_v2, "swarm_key": V1},
        }[which]
        with pytest.raises(IntegrityError, match=rf"UNIQUE constraint failed: torrents\.{which}|uq_torrents_{which}"):
            async with transaction(sessions) as session:
                session.add(torrent(await session.get_one(Category, category_id), **clash))
        assert await count(sessions, Torrent) == 1


@pytest.mark.parametrize(
    ("hashes", "constraint"),
    [
        ({"v1": None, "v2": None}, "ck_torrents_has_info_hash"),
        ({"v1": V1.hex().encode()[:40], "v2": None}, "ck_torrents_info_hash_v1_length"),
        ({"v1": None, "v2": V2[:20]}, "ck_torrents_info_hash_v2_length"),
        ({"v1": V1, "swarm_key": V1 + b"\0"}, "ck_torrents_swarm_key_length"),
    ],
)
@async_test
async def test_hash_shapes_are_checked(url: str, hashes: dict[str, Any], constraint: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        _, category_id = await seeded(sessions)
        with pytest.raises(IntegrityError, match=rf"(CHECK constraint failed|violates check constraint).*{constraint}"):
            async with transaction(sessions) as session:
                session.add(torrent(await session.get_one(Category, category_id), **hashes))


@async_test
async def test_v2_only_torrent_is_keyed_by_its_truncated_hash(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        _, category_id = await seeded(sessions)
        async with transaction(sessions) as session:
            session.add(torrent(await session.get_one(Category, category_id), v1=None, v2=V2))
        async with sessions() as session:
            found = await session.scalar(select(Torrent).where(Torrent.swarm_key == V2[:20]))
            assert found is not None
            assert found.info_hash_v1 is None


async def _torrent_with_files_and_tags(sessions: async_sessionmaker[AsyncSession]) -> int:
    user_id, category_id = await seeded(sessions)
    async with transaction(sessions) as session:
        added = torrent(await session.get_one(Category, category_id), uploader_id=user_id)
        added.files = [
            TorrentFile(position=1, path="b/second.bin", size=3),
            TorrentFile(position=0, path="a/first.bin", size=2),
        ]
        added.tags = [Tag(name="linux"), Tag(name="iso")]
        session.add(added)
    return added.id


@async_test
async def test_files_come_in_their_order(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        torrent_id = await _torrent_with_files_and_tags(sessions)
        async with sessions() as session:
            found = await session.scalar(
                select(Torrent)
                .where(Torrent.id == torrent_id)
                .options(selectinload(Torrent.files), selectinload(Torrent.tags))
            )
            assert found is not None
            assert [f.path for f in found.files] == ["a/first.bin", "b/second.bin"]
            assert sorted(t.name for t in found.tags) == ["iso", "linux"]


@pytest.mark.parametrize("how", ["sql", "orm"])
@async_test
async def test_deleting_a_torrent_deletes_its_files_and_tag_links(url: str, how: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        torrent_id = await _torrent_with_files_and_tags(sessions)
        assert (await count(sessions, TorrentFile), await count(sessions, torrent_tags)) == (2, 2)
        async with transaction(sessions) as session:
            if how == "sql":  # a plain DELETE: the database cascades
                await session.execute(delete(Torrent).where(Torrent.id == torrent_id))
            else:  # the ORM leaves the files and tags, not loaded, to the database too
                await session.delete(await session.get_one(Torrent, torrent_id))
        assert await count(sessions, TorrentFile) == 0
        assert await count(sessions, torrent_tags) == 0
        assert await count(sessions, Tag) == 2  # the tags themselves stay


@async_test
async def test_a_category_in_use_cannot_be_deleted(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        await _torrent_with_files_and_tags(sessions)
        with pytest.raises(IntegrityError, match=r"(?i)FOREIGN KEY"):
            async with transaction(sessions) as session:
                await session.execute(delete(Category))
        assert await count(sessions, Category) == 1


@async_test
async def test_deleting_a_user_keeps_their_torrents_and_ends_their_access(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        torrent_id = await _torrent_with_files_and_tags(sessions)
        now = datetime.now(UTC)
        async with transaction(sessions) as session:
            user = await session.scalar(select(User))
            assert user is not None
            session.add(ApiToken(user_id=user.id, token_hash=secret_digest("t0ken"), name="rss"))
            session.add(
                LoginSession(
                    id=secret_digest("cookie"), user_id=user.id, expires_at=now + timedelta(days=30)
                )
            )
        async with transaction(sessions) as session:
            await session.execute(delete(User))
        assert (await count(sessions, ApiToken), await count(sessions, LoginSession)) == (0, 0)
        async with sessions() as session:
            kept = await session.get_one(Torrent, torrent_id)
            assert kept.uploader_id is None


@async_test
async def test_token_and_session_digests_are_unique(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        user_id, _ = await seeded(sessions)
        async with transaction(sessions) as session:
            session.add(ApiToken(user_id=user_id, token_hash=secret_digest("same"), name="a"))
        with pytest.raises(IntegrityError, match=r"api_tokens\.token_hash|uq_api_tokens_token_hash"):
            async with transaction(sessions) as session:
                session.add(ApiToken(user_id=user_id, token_hash=secret_digest("same"), name="b"))
        expires = datetime.now(UTC) + timedelta(days=1)
        async with transaction(sessions) as session:
            session.add(LoginSession(id=secret_digest("c"), user_id=user_id, expires_at=expires))
        with pytest.raises(IntegrityError, match=r"sessions\.id|pk_sessions"):
            async with transaction(sessions) as session:
                session.add(LoginSession(id=secret_digest("c"), user_id=user_id, expires_at=expires))


@async_test
async def test_rows_must_point_at_existing_rows(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        with pytest.raises(IntegrityError, match=r"(?i)FOREIGN KEY"):
            async with transaction(sessions) as session:
                session.add(ApiToken(user_id=12345, token_hash=secret_digest("x"), name="x"))
