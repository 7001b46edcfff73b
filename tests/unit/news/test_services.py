"""News rules on a real, migrated SQLite file: who writes, what the public sees and when,
and comments under posts by the rules of torrent comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from swarmdex.comments.services import EDIT_WINDOW, CommentError, NotAllowed, NotFound
from swarmdex.db import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.news import services
from swarmdex.news.models import NewsComment, NewsPost
from swarmdex.news.services import PostForm

from .conftest import World, async_test, world

STAFF = [Role.MODERATOR, Role.ADMIN]
NOT_STAFF = [Role.USER, Role.TRUSTED]


def form(title: str = "Hello", body: str = "Some *news*.", *, draft: bool = False,
         publish_at: datetime | None = None) -> PostForm:
    return PostForm(title, body, draft, publish_at or utcnow())


async def publish(w: World, role: Role = Role.ADMIN, **values: object) -> int:
    async with transaction(w.sessions) as session:
        post = await services.write(session, author=w.users[role], form=form(**values))  # type: ignore[arg-type]
    return post.id


async def public_titles(w: World, now: datetime | None = None) -> list[str]:
    async with w.sessions() as session:
        return [p.title for p in (await services.listing(session, now=now)).posts]


# writing


@pytest.mark.parametrize("role", STAFF)
@async_test
async def test_staff_write_edit_and_delete(url: str, role: Role) -> None:
    async with world(url) as w:
        post_id = await publish(w, role, title="  Tracker\n moved  ")
        async with transaction(w.sessions) as session:
            post = await services.get(session, post_id)
            assert post is not None and post.title == "Tracker moved"
            assert post.author is not None and post.author.name == role.value
            assert post.edited_at is None
            await services.update(session, post_id, editor=w.users[role],
                                  form=form("Tracker moved", "New text"))
        async with w.sessions() as session:
            post = await services.get(session, post_id)
            assert post is not None and post.body == "New text" and post.edited_at is not None
        async with transaction(w.sessions) as session:
            await services.delete(session, post_id, by=w.users[role])
        async with w.sessions() as session:
            assert await services.get(session, post_id) is None


@pytest.mark.parametrize("role", NOT_STAFF)
@async_test
async def test_members_cannot_write_edit_or_delete(url: str, role: Role) -> None:
    async with world(url) as w:
        post_id = await publish(w)
        member = w.users[role]
        async with transaction(w.sessions) as session:
            with pytest.raises(NotAllowed):
                await services.write(session, author=member, form=form())
            with pytest.raises(NotAllowed):
                await services.update(session, post_id, editor=member, form=form("Mine now"))
            with pytest.raises(NotAllowed):
                await services.delete(session, post_id, by=member)


@async_test
async def test_a_disabled_admin_is_not_staff(url: str) -> None:
    async with world(url) as w:
        admin = w.users[Role.ADMIN]
        admin.disabled_at = utcnow()
        assert not services.is_staff(admin)
        async with transaction(w.sessions) as session:
            with pytest.raises(NotAllowed):
                await services.write(session, author=admin, form=form())


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        (" \n ", "text", "needs a title"),
        ("x" * (services.TITLE_MAX + 1), "text", "at most 200 characters"),
        ("Title", "  \r\n ", "A news post cannot be empty"),
        ("Title", "a\x00b", "news post contains control characters"),
        ("Title", "x" * (services.BODY_MAX + 1), "at most 100,000 fit"),
    ],
)
def test_refused_posts_say_why(title: str, body: str, message: str) -> None:
    with pytest.raises(CommentError, match=message):
        form(title, body).clean()


def test_publish_time_from_the_form_is_utc() -> None:
    now = utcnow()
    assert services.parse_publish_at("", now) == now
    assert services.parse_publish_at("2030-02-03T04:05") == datetime(2030, 2, 3, 4, 5, tzinfo=UTC)
    for bad in ("tomorrow", "2030-02-30T10:00", "2030-02-03 04:05:06.123"):
        with pytest.raises(CommentError):
            services.parse_publish_at(bad)


def test_slugs_and_excerpts() -> None:
    assert services.slug("Tracker moved! (Again)") == "tracker-moved-again"
    assert services.slug("Éte à Zürich") == "ete-a-zurich"
    assert services.slug("日本語") == ""
    assert len(services.slug("word " * 40)) <= services.SLUG_MAX
    assert services.excerpt("# Hi\n\n**Bold** and <b>raw</b>") == "Hi Bold and <b>raw</b>"
    long = services.excerpt("word " * 200, chars=50)
    assert long.endswith("…") and len(long) <= 51 and "wor…" not in long


# what the public sees, and when


@async_test
async def test_drafts_and_scheduled_posts_are_not_public(url: str) -> None:
    async with world(url) as w:
        now = utcnow()
        await publish(w, title="Old", publish_at=now - timedelta(days=2))
        await publish(w, title="New", publish_at=now - timedelta(days=1))
        await publish(w, title="Draft", draft=True)
        await publish(w, title="Tomorrow", publish_at=now + timedelta(days=1))
        await publish(w, title="Old draft", draft=True, publish_at=now - timedelta(days=3))
        assert await public_titles(w, now) == ["New", "Old"]
        # The scheduled post appears by itself once its time has come; drafts never do.
        assert await public_titles(w, now + timedelta(days=2)) == ["Tomorrow", "New", "Old"]
        async with w.sessions() as session:
            everything = await services.listing(session, everything=True, now=now)
            assert {p.title for p in everything.posts} == {
                "Old", "New", "Draft", "Tomorrow", "Old draft"}
            assert [p.title for p in await services.latest(session, 1, now)] == ["New"]


@async_test
async def test_visibility_by_viewer(url: str) -> None:
    async with world(url) as w:
        post_id = await publish(w, draft=True)
        async with w.sessions() as session:
            post = await services.get(session, post_id)
        assert post is not None
        assert not services.visible_to(post, None)
        for role in Role:
            assert services.visible_to(post, w.users[role]) == (role in STAFF)


@async_test
async def test_pages_of_posts(url: str) -> None:
    async with world(url) as w:
        now = utcnow()
        for n in range(5):
            await publish(w, title=f"P{n}", publish_at=now - timedelta(hours=n))
        async with w.sessions() as session:
            first = await services.listing(session, per_page=2)
            last = await services.listing(session, page=3, per_page=2)
        assert [p.title for p in first.posts] == ["P0", "P1"] and first.has_next
        assert [p.title for p in last.posts] == ["P4"] and not last.has_next


@async_test
async def test_erasing_the_author_keeps_the_post(url: str) -> None:
    async with world(url) as w:
        post_id = await publish(w, Role.MODERATOR)
        async with transaction(w.sessions) as session:
            await session.delete(await session.get_one(User, w.users[Role.MODERATOR].id))
        async with w.sessions() as session:
            post = await services.get(session, post_id)
        assert post is not None and post.author is None


# comments


async def comment(w: World, post_id: int, role: Role = Role.USER, body: str = "hi",
                  now: datetime | None = None) -> int:
    async with transaction(w.sessions) as session:
        post = await session.get_one(NewsPost, post_id)
        added = await services.add_comment(session, post=post, author=w.users[role], body=body,
                                           now=now)
    return added.id


@async_test
async def test_comments_follow_the_comment_rules(url: str) -> None:
    async with world(url) as w:
        post_id = await publish(w)
        first = await comment(w, post_id, Role.USER, "first")
        second = await comment(w, post_id, Role.TRUSTED, "second")
        async with transaction(w.sessions) as session:
            await services.edit_comment(session, first, editor=w.users[Role.USER], body="fixed")
            with pytest.raises(NotAllowed, match="Only its author"):
                await services.edit_comment(session, second, editor=w.users[Role.USER], body="x")
            with pytest.raises(NotAllowed, match="author or a moderator"):
                await services.delete_comment(session, second, by=w.users[Role.USER])
            await services.delete_comment(session, second, by=w.users[Role.MODERATOR])
        async with w.sessions() as session:
            views = await services.comments_of(session, post_id)
        assert [(v.id, v.body, v.removed, v.thread_id) for v in views] == [
            (first, "fixed", False, post_id), (second, "", True, post_id)]
        assert views[0].edited_at is not None


@async_test
async def test_comment_edit_window(url: str) -> None:
    async with world(url) as w:
        post_id = await publish(w, publish_at=utcnow() - timedelta(hours=1))
        comment_id = await comment(w, post_id, now=utcnow() - EDIT_WINDOW - timedelta(seconds=1))
        async with transaction(w.sessions) as session:
            with pytest.raises(NotAllowed, match="edited for 15 minutes"):
                await services.edit_comment(session, comment_id, editor=w.users[Role.USER],
                                            body="late")


@async_test
async def test_no_comments_under_unpublished_posts(url: str) -> None:
    async with world(url) as w:
        draft = await publish(w, draft=True)
        later = await publish(w, publish_at=utcnow() + timedelta(hours=1))
        for post_id in (draft, later):
            with pytest.raises(NotFound, match="not published"):
                await comment(w, post_id)
        public = await publish(w)
        comment_id = await comment(w, public)
        async with transaction(w.sessions) as session:
            post = await session.get_one(NewsPost, public)
            post.draft = True  # taken back: its comments cannot be edited meanwhile
            await session.flush()
            with pytest.raises(NotFound):
                await services.edit_comment(session, comment_id, editor=w.users[Role.USER],
                                            body="x")


@async_test
async def test_deleting_a_post_deletes_its_comments(url: str) -> None:
    async with world(url) as w:
        post_id = await publish(w)
        await comment(w, post_id)
        async with transaction(w.sessions) as session:
            await services.delete(session, post_id, by=w.users[Role.ADMIN])
        async with w.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(NewsComment)) == 0
