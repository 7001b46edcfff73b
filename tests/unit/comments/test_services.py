"""Comment rules on a real, migrated SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select

from swarmdex.comments import services
from swarmdex.comments.models import Comment
from swarmdex.comments.services import EDIT_WINDOW, MAX_CHARS, CommentError, NotAllowed, NotFound
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent, User, utcnow

from .conftest import World, async_test, world

ROLES = list(Role)


async def post(
    w: World, role: Role = Role.USER, body: str = "hello", now: datetime | None = None
) -> int:
    async with transaction(w.sessions) as session:
        comment = await services.add(session, torrent=w.torrent, author=w.users[role], body=body, now=now)
    return comment.id


# the text


def test_line_endings_are_normalised_before_counting() -> None:
    # A browser sends a textarea's newlines as CRLF; its maxlength counts them as one.
    body = ("a\r\n" * 5000).rstrip()
    assert services.clean_body(body) == ("a\n" * 5000).rstrip()
    assert len(services.clean_body(body)) == 9999


def test_length_limit_is_inclusive() -> None:
    assert services.clean_body("x" * MAX_CHARS) == "x" * MAX_CHARS
    with pytest.raises(CommentError, match="10,001 characters long; at most 10,000"):
        services.clean_body("x" * (MAX_CHARS + 1))


@pytest.mark.parametrize("body", ["", " ", "\r\n\r\n", "\t\n "])
def test_empty_comments_are_refused(body: str) -> None:
    with pytest.raises(CommentError, match="cannot be empty"):
        services.clean_body(body)


def test_control_characters_are_refused_tabs_kept() -> None:
    with pytest.raises(CommentError, match="control characters"):
        services.clean_body("a\x00b")
    assert services.clean_body("a\tb") == "a\tb"


def test_trimming_keeps_a_leading_code_block() -> None:
    assert services.clean_body("\n\n    code\n\n") == "    code"


# adding and reading


@async_test
async def test_comments_are_listed_oldest_first_with_their_authors(url: str) -> None:
    async with world(url) as w:
        now = utcnow()
        second = await post(w, Role.MODERATOR, "second", now=now)
        first = await post(w, Role.USER, "first", now=now - timedelta(minutes=1))
        async with w.sessions() as session:
            views = await services.for_torrent(session, w.torrent.id)
        assert [(v.id, v.author_name, v.author_role, v.body) for v in views] == [
            (first, "user", Role.USER, "first"),
            (second, "moderator", Role.MODERATOR, "second"),
        ]
        assert views[0].edited_at is None and not views[0].removed


@async_test
async def test_another_torrents_comments_are_not_listed(url: str) -> None:
    async with world(url) as w:
        await post(w)
        async with w.sessions() as session:
            assert await services.for_torrent(session, w.torrent.id + 1) == []


@async_test
async def test_removed_torrents_take_no_comments(url: str) -> None:
    async with world(url) as w:
        async with transaction(w.sessions) as session:
            torrent = await session.get_one(Torrent, w.torrent.id)
            torrent.deleted_at = utcnow()
        with pytest.raises(NotFound, match="removed from the site"):
            async with transaction(w.sessions) as session:
                await services.add(session, torrent=torrent, author=w.users[Role.USER], body="x")


@async_test
async def test_disabled_accounts_cannot_comment(url: str) -> None:
    async with world(url) as w:
        w.users[Role.USER].disabled_at = utcnow()
        with pytest.raises(NotAllowed):
            await post(w)


@async_test
async def test_invalid_text_adds_nothing(url: str) -> None:
    async with world(url) as w:
        with pytest.raises(CommentError):
            await post(w, body="   ")
        async with w.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Comment)) == 0


# editing


@async_test
async def test_author_edits_within_the_window(url: str) -> None:
    async with world(url) as w:
        posted = utcnow() - EDIT_WINDOW + timedelta(seconds=5)
        comment_id = await post(w, now=posted)
        async with transaction(w.sessions) as session:
            edited = await services.edit(session, comment_id, editor=w.users[Role.USER], body="new\r\ntext")
        assert (edited.body, edited.edited_at is not None) == ("new\ntext", True)
        async with w.sessions() as session:
            [view] = await services.for_torrent(session, w.torrent.id)
        assert view.body == "new\ntext" and view.edited_at is not None


@async_test
async def test_saving_unchanged_text_is_no_edit(url: str) -> None:
    async with world(url) as w:
        comment_id = await post(w, body="same")
        async with transaction(w.sessions) as session:
            edited = await services.edit(session, comment_id, editor=w.users[Role.USER], body="same\n")
        assert edited.edited_at is None


@async_test
async def test_edit_window_closes_after_fifteen_minutes(url: str) -> None:
    async with world(url) as w:
        posted = utcnow() - timedelta(minutes=20)
        comment_id = await post(w, now=posted)
        user = w.users[Role.USER]
        async with transaction(w.sessions) as session:  # at the very end of the window: still fine
            await services.edit(session, comment_id, editor=user, body="ok", now=posted + EDIT_WINDOW)
        with pytest.raises(NotAllowed, match="edited for 15 minutes"):
            async with transaction(w.sessions) as session:
                await services.edit(
                    session, comment_id, editor=user, body="late",
                    now=posted + EDIT_WINDOW + timedelta(seconds=1),
                )


@pytest.mark.parametrize("role", [Role.TRUSTED, Role.MODERATOR, Role.ADMIN])
@async_test
async def test_nobody_but_the_author_edits(url: str, role: Role) -> None:
    async with world(url) as w:
        comment_id = await post(w, Role.USER)
        with pytest.raises(NotAllowed, match="Only its author"):
            async with transaction(w.sessions) as session:
                await services.edit(session, comment_id, editor=w.users[role], body="mine now")
        async with w.sessions() as session:
            assert (await session.get_one(Comment, comment_id)).body == "hello"


@async_test
async def test_edits_are_checked_like_new_comments(url: str) -> None:
    async with world(url) as w:
        comment_id = await post(w)
        with pytest.raises(CommentError, match="empty"):
            async with transaction(w.sessions) as session:
                await services.edit(session, comment_id, editor=w.users[Role.USER], body=" ")


@async_test
async def test_missing_and_removed_comments_cannot_be_edited(url: str) -> None:
    async with world(url) as w:
        user = w.users[Role.USER]
        with pytest.raises(NotFound):
            async with transaction(w.sessions) as session:
                await services.edit(session, 12345, editor=user, body="x")
        comment_id = await post(w)
        async with transaction(w.sessions) as session:
            await services.delete(session, comment_id, by=user)
        with pytest.raises(NotFound, match="removed"):
            async with transaction(w.sessions) as session:
                await services.edit(session, comment_id, editor=user, body="back")


# removing


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.USER, True), (Role.TRUSTED, False), (Role.MODERATOR, True), (Role.ADMIN, True)],
)
@async_test
async def test_who_removes_a_users_comment(url: str, role: Role, allowed: bool) -> None:
    # The comment's author is the USER; TRUSTED is another ordinary member.
    async with world(url) as w:
        comment_id = await post(w, Role.USER, "spam")
        if allowed:
            async with transaction(w.sessions) as session:
                await services.delete(session, comment_id, by=w.users[role])
        else:
            with pytest.raises(NotAllowed, match="author or a moderator"):
                async with transaction(w.sessions) as session:
                    await services.delete(session, comment_id, by=w.users[role])
        async with w.sessions() as session:
            [view] = await services.for_torrent(session, w.torrent.id)
            stored = await session.get_one(Comment, comment_id)
        assert view.removed is allowed
        assert (stored.body == "") is allowed  # the words are erased, not hidden
        assert (view.body == "") is allowed


@async_test
async def test_moderators_comments_are_removable_by_their_author_and_admins(url: str) -> None:
    async with world(url) as w:
        comment_id = await post(w, Role.MODERATOR)
        with pytest.raises(NotAllowed):
            async with transaction(w.sessions) as session:
                await services.delete(session, comment_id, by=w.users[Role.USER])
        async with transaction(w.sessions) as session:
            await services.delete(session, comment_id, by=w.users[Role.ADMIN])


@async_test
async def test_removing_twice_changes_nothing(url: str) -> None:
    async with world(url) as w:
        comment_id = await post(w)
        async with transaction(w.sessions) as session:
            first = await services.delete(session, comment_id, by=w.users[Role.USER])
        async with transaction(w.sessions) as session:
            again = await services.delete(session, comment_id, by=w.users[Role.ADMIN])
        assert again.deleted_at == first.deleted_at


# permissions as the templates ask them


@async_test
async def test_views_answer_what_each_viewer_may_do(url: str) -> None:
    async with world(url) as w:
        fresh = await post(w, Role.USER, "fresh")
        old = await post(w, Role.USER, "old", now=utcnow() - timedelta(hours=1))
        async with w.sessions() as session:
            views = {v.id: v for v in await services.for_torrent(session, w.torrent.id)}
        author = w.users[Role.USER]
        assert views[fresh].editable_by(author) and not views[old].editable_by(author)
        assert views[fresh].edit_until == views[fresh].created_at + EDIT_WINDOW
        for role in ROLES:
            viewer = w.users[role]
            assert views[old].removable_by(viewer) == (role in {Role.USER, Role.MODERATOR, Role.ADMIN})
            assert views[fresh].editable_by(viewer) == (role is Role.USER)
        assert not views[fresh].editable_by(None) and not views[fresh].removable_by(None)
        author.disabled_at = utcnow()
        assert not views[fresh].editable_by(author) and not views[fresh].removable_by(author)


# what goes with a torrent or an account


@async_test
async def test_comments_go_with_their_torrent_and_their_author(url: str) -> None:
    async with world(url) as w:
        await post(w, Role.USER)
        await post(w, Role.ADMIN)
        async with transaction(w.sessions) as session:
            await session.execute(sql_delete(User).where(User.id == w.users[Role.USER].id))
        async with w.sessions() as session:
            assert [v.author_name for v in await services.for_torrent(session, w.torrent.id)] == ["admin"]
        async with transaction(w.sessions) as session:
            await session.execute(sql_delete(Torrent).where(Torrent.id == w.torrent.id))
        async with w.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Comment)) == 0
