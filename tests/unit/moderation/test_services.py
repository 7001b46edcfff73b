"""Reports and their resolution on a real, migrated SQLite database: who may report what, how
the queue groups reports, and that every resolution closes the item's reports and is logged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.audit import services as audit
from swarmdex.comments import services as comments
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent, User
from swarmdex.moderation import services
from swarmdex.moderation.models import Report
from swarmdex.moderation.services import ModerationError, NotAllowed, NotFound, TorrentEdit
from swarmdex.search import services as search
from swarmdex.torrents import services as torrents
from tests.unit.torrents.support import TorrentFactory, add_user, async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    uploader: User
    mod: User
    member: User
    torrent_id: int
    comment_id: int


@asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A torrent with one comment, its uploader, a moderator and an ordinary member."""
    async with database(tmp_path) as sessions:
        uploader = await add_user(sessions, "uploader")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        member = await add_user(sessions, "member")
        data = TorrentFactory(tmp_path / "t")({"orchid/a.bin": 20_000})
        async with transaction(sessions) as session:
            torrent = await torrents.upload(session, data=data, uploader=uploader,
                                            category_slug="linux", title="Orchid",
                                            max_size=1 << 20)
            comment = await comments.add(session, torrent=torrent, author=member, body="spam!")
        yield World(sessions, uploader, mod, member, torrent.id, comment.id)


async def _report(w: World, kind: str = "torrent", reason: str = "malware", text: str = "bad",
                  **kwargs: object) -> Report:
    async with transaction(w.sessions) as session:
        target = w.torrent_id if kind == "torrent" else w.comment_id
        return await services.file_report(session, target_type=kind, target_id=target,
                                          reason=reason, text=text, **kwargs)  # type: ignore[arg-type]


async def _actions(w: World) -> list[tuple[str, str]]:
    async with w.sessions() as session:
        page = await audit.entries(session)
    return [(e.action, e.note) for e in reversed(page.entries)]


@async_test
async def test_reports_are_checked_and_keep_no_more_than_given(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        report = await _report(w, text="  line one\r\nline two  ", contact=" a@example.org ")
        assert (report.text, report.reporter_contact, report.reporter_id) == (
            "line one\nline two", "a@example.org", None)
        anonymous = await _report(w, "comment", "spam", "", reporter=w.member)
        assert (anonymous.reporter_contact, anonymous.reporter_id) == (None, w.member.id)
        for reason, text, contact, message in [
            ("nonsense", "", None, "reasons"),
            ("spam", "x" * (services.TEXT_MAX_CHARS + 1), None, "at most"),
            ("spam", "bell\x07", None, "control"),
            ("spam", "", "not-an-email", "email"),
        ]:
            with pytest.raises(ModerationError, match=message):
                await _report(w, reason=reason, text=text, contact=contact)
        with pytest.raises(NotFound):
            async with transaction(w.sessions) as session:
                await services.file_report(session, target_type="torrent", target_id=999,
                                           reason="spam", text="")


@async_test
async def test_the_queue_groups_reports_by_item_oldest_first(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _report(w, "comment", "spam")
        await _report(w, "torrent", "malware")
        await _report(w, "comment", "other", reporter=w.member)
        async with w.sessions() as session:
            items = await services.queue(session)
        assert [(i.target_type, len(i.open_reports)) for i in items] == [("comment", 2), ("torrent", 1)]
        assert items[0].comment_author == "member" and items[0].reporters == {w.member.id: "member"}
        assert items[1].torrent is not None and items[1].torrent.title == "Orchid"


@async_test
async def test_hide_then_unhide_restores_the_torrent_and_logs_both(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _report(w)
        await _report(w, reason="copyright")
        async with transaction(w.sessions) as session:
            resolved = await services.resolve_torrent(session, w.torrent_id, by=w.mod,
                                                      resolution="hide", note="checking")
        assert resolved.closed == 2 and resolved.removed is not None
        async with w.sessions() as session:
            assert await services.queue(session) == []
            hidden = await services.hidden_torrents(session)
            assert [t.id for t in hidden] == [w.torrent_id]
            assert (await search.search(session, "orchid")).total == 0
            item = await services.item(session, "torrent", w.torrent_id)
            assert item.hidden and [r.resolution for r in item.earlier_reports] == ["hide", "hide"]
            assert [e.action for e in item.history] == ["torrent.hide"]
        async with transaction(w.sessions) as session:
            torrent = await services.unhide(session, w.torrent_id, by=w.mod, note="fine after all")
        assert torrent.deleted_at is None
        async with w.sessions() as session:
            assert (await search.search(session, "orchid")).total == 1
            assert await services.hidden_torrents(session) == []
        with pytest.raises(NotFound, match="not hidden"):
            async with transaction(w.sessions) as session:
                await services.unhide(session, w.torrent_id, by=w.mod)
        assert await _actions(w) == [("torrent.hide", "checking"), ("torrent.unhide", "fine after all")]


@async_test
async def test_delete_edit_and_dismiss(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _report(w, reason="misleading")
        async with transaction(w.sessions) as session:
            await services.resolve_torrent(
                session, w.torrent_id, by=w.mod, resolution="edit", note="recategorised",
                edit=TorrentEdit("Orchid (fixed)", "software", "Now *right*"))
        async with w.sessions() as session:
            torrent = await session.get(Torrent, w.torrent_id)
            assert torrent is not None and torrent.title == "Orchid (fixed)"
            (entry,) = (await audit.entries(session, audit.Filters(action="torrent.edit"))).entries
        assert entry.before == {"title": "Orchid", "category": "linux", "description": ""}
        assert entry.after == {"title": "Orchid (fixed)", "category": "software",
                               "description": "Now *right*"}
        # Resolved once: a second resolution (a double submit, another moderator) is refused.
        with pytest.raises(NotFound, match="no open reports"):
            async with transaction(w.sessions) as session:
                await services.resolve_torrent(session, w.torrent_id, by=w.mod, resolution="dismiss")
        await _report(w)
        async with transaction(w.sessions) as session:
            await services.resolve_torrent(session, w.torrent_id, by=w.mod, resolution="dismiss")
        await _report(w, reason="illegal")
        async with transaction(w.sessions) as session:
            resolved = await services.resolve_torrent(session, w.torrent_id, by=w.mod,
                                                      resolution="delete", note="illegal")
        assert resolved.removed is not None
        async with w.sessions() as session:
            item = await services.item(session, "torrent", w.torrent_id)
            assert item.gone and not item.hidden  # deleted, not hidden: no unhide
        assert [a for a, _ in await _actions(w)] == ["torrent.edit", "report.dismiss", "torrent.delete"]


@async_test
async def test_comment_reports_remove_or_dismiss(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _report(w, "comment", "spam")
        async with transaction(w.sessions) as session:
            await services.resolve_comment(session, w.comment_id, by=w.mod, resolution="remove",
                                           note="spam")
        async with w.sessions() as session:
            (view,) = await comments.for_torrent(session, w.torrent_id)
            assert view.removed
            rows = list(await session.scalars(select(Report)))
        assert [(r.resolution, r.resolution_note, r.resolved_by_id) for r in rows] == [
            ("remove", "spam", w.mod.id)]
        assert await _actions(w) == [("comment.remove", "spam")]
        with pytest.raises(NotFound):  # a removed comment cannot be reported any more
            await _report(w, "comment")


@async_test
async def test_only_staff_resolve(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await _report(w)
        await _report(w, "comment")
        for user in (w.member, w.uploader):
            with pytest.raises(NotAllowed):
                async with transaction(w.sessions) as session:
                    await services.resolve_torrent(session, w.torrent_id, by=user, resolution="hide")
            with pytest.raises(NotAllowed):
                async with transaction(w.sessions) as session:
                    await services.resolve_comment(session, w.comment_id, by=user,
                                                   resolution="remove")
            with pytest.raises(NotAllowed):
                async with transaction(w.sessions) as session:
                    await services.unhide(session, w.torrent_id, by=user)
        with pytest.raises(ModerationError, match="Pick"):
            async with transaction(w.sessions) as session:
                await services.resolve_torrent(session, w.torrent_id, by=w.mod, resolution="burn")
        assert await _actions(w) == []
