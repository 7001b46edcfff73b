"""Takedown services on a real (SQLite) database: notices, decisions, counter-notices, the
blocks they put on uploads, the repeat-infringer rule and the redacted public record."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.audit.models import AuditEntry
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent, User
from swarmdex.search import services as search_index
from swarmdex.takedowns import services
from swarmdex.takedowns.models import CounterStatus, NoticeStatus
from swarmdex.torrents import services as torrents
from swarmdex.torrents.fields import UploadError
from tests.unit.torrents.support import TorrentFactory, add_user, async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

Sessions = async_sessionmaker[AsyncSession]
CLAIMANT = "Ada Claimant"
EMAIL = "ada.claimant@example.org"


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _upload(sessions: Sessions, make: TorrentFactory, user: User, title: str,
                  *, version: str = "hybrid", limit: int = 0) -> Torrent:
    async with transaction(sessions) as session:
        return await torrents.upload(session, data=make(version=version), uploader=user,
                                     category_slug="linux", title=title, max_size=1 << 20,
                                     repeat_infringer_notices=limit)


def _form(lines: str, **changes: object) -> services.NoticeForm:
    form = services.NoticeForm(claimant_name=CLAIMANT, organisation="", email=EMAIL,
                               work="The film Example, (c) 2024", torrents=lines,
                               good_faith=True, accurate=True, signature=CLAIMANT)
    for name, value in changes.items():
        setattr(form, name, value)
    return form


async def _file(sessions: Sessions, lines: str, **changes: object) -> int:
    async with transaction(sessions) as session:
        return (await services.file_notice(session, _form(lines, **changes))).id


async def _accept(sessions: Sessions, notice_id: int, by: User) -> None:
    async with transaction(sessions) as session:
        notice = await services.notice(session, notice_id)
        assert notice is not None
        await services.accept(session, notice, by=by, note="valid notice")


async def _counter(sessions: Sessions, notice_id: int, user: User) -> int:
    async with transaction(sessions) as session:
        notice = await services.notice(session, notice_id)
        assert notice is not None
        form = services.CounterForm("I made this film myself.", "up@example.org", True, "Up Loader")
        return (await services.file_counter(session, notice, user, form)).id


async def _actions(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@async_test
async def test_a_notice_names_torrents_by_url_or_any_hash(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        hybrid = await _upload(sessions, make, up, "Hybrid")
        v2only = await _upload(sessions, make, up, "V2 only", version="v2")
        v1only = await _upload(sessions, make, up, "V1 only", version="v1")
        assert hybrid.info_hash_v2 is not None and v2only.info_hash_v2 is not None
        lines = "\n".join([
            f"https://site.example/t/{torrents.info_hash(v1only)}",
            f"  {hybrid.info_hash_v2.hex().upper()}  ",
            "",
            v2only.info_hash_v2[:20].hex(),
            f"/t/{torrents.info_hash(v1only)}.torrent",  # the same torrent again: named once
        ])
        notice_id = await _file(sessions, lines)
        async with sessions() as session:
            notice = await services.notice(session, notice_id)
        assert notice is not None and notice.status == NoticeStatus.PENDING
        assert [item.title for item in notice.items] == ["V1 only", "Hybrid", "V2 only"]


@async_test
async def test_a_notice_says_what_is_wrong(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        torrent = await _upload(sessions, make, up, "Listed")
        with pytest.raises(services.NoticeError) as refused:
            await _file(sessions, f"/t/{torrents.info_hash(torrent)}\n{'ab' * 20}\nnot a hash",
                        email="nope", good_faith=False, accurate=False, signature=" ", work="")
        errors = refused.value.errors
        assert set(errors) == {"email", "work", "torrents", "good_faith", "accurate", "signature"}
        assert "ab" * 20 in errors["torrents"] and "not a hash" in errors["torrents"]
        with pytest.raises(services.NoticeError) as empty:
            await _file(sessions, "\n\n")
        assert "at least one torrent" in empty.value.errors["torrents"]


@async_test
async def test_accepting_takes_torrents_down_and_blocks_their_hashes(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        torrent = await _upload(sessions, make, up, "Contested kestrelword")
        kept = await _upload(sessions, make, up, "Unrelated")
        notice_id = await _file(sessions, torrents.info_hash(torrent))
        await _accept(sessions, notice_id, mod)
        async with sessions() as session:
            assert await torrents.find(session, torrents.info_hash(torrent)) is None
            assert await torrents.find(session, torrents.info_hash(kept)) is not None
            assert (await search_index.search(session, "kestrelword")).results == []
            for digest in (torrent.info_hash_v1, torrent.info_hash_v2):
                item = await services.taken_down(session, digest)
                assert item is not None and item.notice_id == notice_id
            assert torrent.info_hash_v2 is not None
            assert await services.taken_down(session, torrent.info_hash_v2[:20]) is not None
            assert await services.taken_down(session, kept.info_hash_v1) is None
            assert await services.standing_hashes(session) == [(torrent.info_hash_v1, torrent.info_hash_v2)]
            notice = await services.notice(session, notice_id)
            assert notice is not None
            with pytest.raises(services.DecisionError):
                await services.reject(session, notice, by=mod)
        assert await _actions(sessions) == ["takedown.accept"]
        # A re-upload is refused, even once the old row is gone.
        with pytest.raises(UploadError, match=f"notice #{notice_id}"):
            await _upload_same(sessions, torrent, up)
        async with transaction(sessions) as session:
            await session.execute(delete(Torrent).where(Torrent.id == torrent.id))
        with pytest.raises(UploadError, match=f"notice #{notice_id}"):
            await _upload_same(sessions, torrent, up)


async def _upload_same(sessions: Sessions, torrent: Torrent, user: User) -> None:
    """Upload a torrent with exactly `torrent`'s info dictionary again."""
    data = b"d4:info" + torrent.info_dict + b"e"
    async with transaction(sessions) as session:
        await torrents.upload(session, data=data, uploader=user, category_slug="linux",
                              max_size=1 << 20)


@async_test
async def test_rejecting_keeps_the_torrents(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        torrent = await _upload(sessions, make, up, "Fine")
        notice_id = await _file(sessions, torrents.info_hash(torrent))
        async with transaction(sessions) as session:
            notice = await services.notice(session, notice_id)
            assert notice is not None
            await services.reject(session, notice, by=mod, note="no rights shown")
        async with sessions() as session:
            assert await torrents.find(session, torrents.info_hash(torrent)) is not None
            assert await services.standing_hashes(session) == []
        assert await _actions(sessions) == ["takedown.reject"]


@async_test
async def test_counter_notice_and_restore(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        other = await add_user(sessions, "other")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        torrent = await _upload(sessions, make, up, "Mine kestrelback")
        notice_id = await _file(sessions, torrents.info_hash(torrent))
        await _accept(sessions, notice_id, mod)
        async with sessions() as session:
            removed = await services.for_uploader(session, up)
            assert [(r.notice_id, r.title, r.counter) for r in removed] == [(notice_id, "Mine kestrelback", None)]
            assert await services.for_uploader(session, other) == []
        with pytest.raises(services.NoticeError):  # only the uploader may dispute
            await _counter(sessions, notice_id, other)
        counter_id = await _counter(sessions, notice_id, up)
        with pytest.raises(services.NoticeError, match="already waiting"):
            await _counter(sessions, notice_id, up)
        async with transaction(sessions) as session:
            counter = await services.counter_notice(session, counter_id)
            assert counter is not None
            restored = await services.restore(session, counter, by=mod, note="licence shown")
            assert [item.title for item, _ in restored] == ["Mine kestrelback"]
        async with sessions() as session:
            assert await torrents.find(session, torrents.info_hash(torrent)) is not None
            assert len((await search_index.search(session, "kestrelback")).results) == 1
            assert await services.taken_down(session, torrent.info_hash_v1) is None
            assert await services.for_uploader(session, up) == []
            counter = await services.counter_notice(session, counter_id)
            assert counter is not None and counter.status == CounterStatus.RESTORED
        assert await _actions(sessions) == ["takedown.accept", "takedown.restore"]


@async_test
async def test_uphold_keeps_the_takedown(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        mod = await add_user(sessions, "mod", Role.ADMIN)
        torrent = await _upload(sessions, make, up, "Still down")
        notice_id = await _file(sessions, torrents.info_hash(torrent))
        await _accept(sessions, notice_id, mod)
        counter_id = await _counter(sessions, notice_id, up)
        async with transaction(sessions) as session:
            counter = await services.counter_notice(session, counter_id)
            assert counter is not None
            await services.uphold(session, counter, by=mod)
            with pytest.raises(services.DecisionError):
                await services.restore(session, counter, by=mod)
        async with sessions() as session:
            assert await services.taken_down(session, torrent.info_hash_v1) is not None
            [removed] = await services.for_uploader(session, up)
            assert removed.counter == CounterStatus.UPHELD
        assert await _actions(sessions) == ["takedown.accept", "takedown.uphold"]


@async_test
async def test_repeat_infringers_lose_upload_rights(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        notices = []
        for n in range(2):
            torrent = await _upload(sessions, make, up, f"Strike {n}", limit=2)
            notices.append(await _file(sessions, torrents.info_hash(torrent)))
            await _accept(sessions, notices[-1], mod)
        with pytest.raises(UploadError, match=r"2 legal notices .* after 2"):
            await _upload(sessions, make, up, "Third", limit=2)
        await _upload(sessions, make, up, "No rule", limit=0)
        await _upload(sessions, make, up, "Higher limit", limit=3)
        # A restored takedown no longer counts.
        counter_id = await _counter(sessions, notices[0], up)
        async with transaction(sessions) as session:
            counter = await services.counter_notice(session, counter_id)
            assert counter is not None
            await services.restore(session, counter, by=mod)
        await _upload(sessions, make, up, "Allowed again", limit=2)


@async_test
async def test_transparency_is_redacted_and_counted(tmp_path: Path, make: TorrentFactory) -> None:
    async with database(tmp_path) as sessions:
        up = await add_user(sessions, "up")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        a = await _upload(sessions, make, up, "Film A")
        b = await _upload(sessions, make, up, "Film B")
        first = await _file(sessions, torrents.info_hash(a),
                            work=f"Film A by {CLAIMANT}; write to {EMAIL}")
        second = await _file(sessions, torrents.info_hash(b), organisation="Studio Ltd")
        await _accept(sessions, first, mod)
        async with transaction(sessions) as session:
            notice = await services.notice(session, second)
            assert notice is not None
            await services.reject(session, notice, by=mod)
        await _counter(sessions, first, up)
        async with sessions() as session:
            report = await services.transparency(session)
        text = json.dumps(asdict(report))
        assert EMAIL not in text and CLAIMANT not in text and "up@example.org" not in text
        assert [(n.number, n.claimant, n.decision) for n in report.notices] == [
            (second, "Studio Ltd", "rejected"), (first, "an individual", "accepted")]
        assert report.notices[1].torrents[0].title == "Film A"
        assert report.notices[1].torrents[0].info_hash == torrents.info_hash(a)
        [month] = report.months
        assert (month.notices, month.accepted, month.rejected, month.counter_notices,
                month.restorations) == (2, 1, 1, 1, 0)
