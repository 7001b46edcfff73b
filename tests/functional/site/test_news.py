"""News through the real site: staff-only forms, what the public sees and when (list, post,
home page, feed), inert markup, and comments under posts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.news.models import NewsPost
from swarmdex.web.security import CSRF_FIELD

from .helpers import BASE_URL, Site, async_test, csrf_token, post_form, running_site
from .test_comments import Elements, item, login_redirect
from .test_feeds import parse

ROLES = list(Role)
ATTACK = (
    '<script>alert("x")</script> <img src=x onerror=alert(1)> '
    "[click](javascript:alert(1)) <a href=\"http://evil\" onclick=\"steal()\">x</a> "
    '"><svg onload=alert(1)>'
)


@dataclass
class Scene:
    site: Site
    anonymous: httpx.AsyncClient
    members: dict[Role, httpx.AsyncClient]  # one logged-in browser per role, named after it

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.members[Role.ADMIN]


async def scene(site: Site) -> Scene:
    """A logged-in browser per role (accounts inserted directly: no password hashing)."""
    async with transaction(site.ctx.db) as session:
        session.add_all(User(name=role.value, password_hash="!", role=role) for role in ROLES)
    members = {role: await site.logged_in(role.value) for role in ROLES}
    return Scene(site, site.client(), members)


async def write(client: httpx.AsyncClient, title: str = "Hello", body: str = "Some *news*.",
                *, draft: bool = False, publish_at: str = "") -> str:
    """Post the new-post form; the new post's path."""
    fields = {"title": title, "body": body, "publish_at": publish_at}
    answer = await post_form(client, "/news/new", **fields, **({"draft": "1"} if draft else {}))
    assert answer.status_code == 303, answer.text
    assert re.fullmatch(r"/news/\d+(-[a-z0-9-]+)?", answer.headers["location"])
    return str(answer.headers["location"])


def post_id(path: str) -> int:
    return int(path.split("/")[2].split("-")[0])


async def page(client: httpx.AsyncClient, path: str, status: int = 200) -> str:
    answer = await client.get(path)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
    return answer.text


def inert(html: str) -> None:
    """No element that runs script or leaves for javascript:, whatever the text said."""
    for tag, attributes in Elements.of(html):
        assert tag not in ("script", "img", "svg", "iframe"), (tag, attributes)
        for name, value in attributes:
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "formaction"):
                assert "javascript:" not in (value or "").lower(), (tag, name, value)


def main_part(html: str) -> str:
    return html[html.index('<main id="main"'):html.index("</main>")]


# who may write


@async_test
async def test_only_staff_write_edit_and_delete(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        path = await write(s.admin, "First")
        n = post_id(path)
        edit = {"title": "Taken over", "body": "x", "publish_at": ""}

        anonymous = s.anonymous
        assert login_redirect(await anonymous.get("/news/new"))
        assert login_redirect(await anonymous.get(f"/news/{n}/edit"))
        for target, fields in (("/news/new", edit), (f"/news/{n}/edit", edit),
                               (f"/news/{n}/delete", {})):
            assert login_redirect(await post_form(anonymous, target, **fields)), target

        for role in (Role.USER, Role.TRUSTED):
            member = s.members[role]
            assert (await member.get("/news/new")).status_code == 403
            assert (await member.get(f"/news/{n}/edit")).status_code == 403
            assert (await post_form(member, "/news/new", **edit)).status_code == 403
            assert (await post_form(member, f"/news/{n}/edit", **edit)).status_code == 403
            assert (await post_form(member, f"/news/{n}/delete")).status_code == 403
            listed = await page(member, "/news")
            assert 'href="/news/new"' not in listed and f"/news/{n}/edit" not in await page(
                member, path)
        assert "Taken over" not in await page(anonymous, path)

        for role in (Role.MODERATOR, Role.ADMIN):
            staff = s.members[role]
            assert 'action="/news/new"' in await page(staff, "/news/new")
            assert 'value="First"' in await page(staff, f"/news/{n}/edit")
            assert 'href="/news/new"' in await page(staff, "/news")
            await write(staff, f"By {role.value}")
        answer = await post_form(s.members[Role.MODERATOR], f"/news/{n}/edit",
                                 title="First, edited", body="New **text**", publish_at="")
        assert answer.status_code == 303
        shown = await page(anonymous, answer.headers["location"])
        assert "First, edited" in shown and "New <strong>text</strong>" in shown
        assert "edited</span>" in shown

        answer = await post_form(s.admin, f"/news/{n}/delete")
        assert answer.status_code == 303 and answer.headers["location"] == "/news"
        await page(anonymous, f"/news/{n}", status=404)
        assert (await post_form(s.admin, f"/news/{n}/delete")).status_code == 404


@async_test
async def test_forms_need_the_csrf_field(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        await csrf_token(s.admin)
        answer = await s.admin.post("/news/new", data={"title": "t", "body": "b"})
        assert answer.status_code == 403
        answer = await s.admin.post("/news/new", data={CSRF_FIELD: "forged", "title": "t",
                                                       "body": "b"})
        assert answer.status_code == 403
        assert "No news yet." in await page(s.anonymous, "/news")


@async_test
async def test_refused_form_comes_back_with_what_was_typed(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        answer = await post_form(s.admin, "/news/new", title=" ", body="kept & typed",
                                 publish_at="")
        assert answer.status_code == 400
        assert "needs a title" in answer.text and "kept &amp; typed</textarea>" in answer.text
        answer = await post_form(s.admin, "/news/new", title="T", body="b",
                                 publish_at="someday")
        assert answer.status_code == 400 and "YYYY-MM-DD HH:MM" in answer.text
        assert 'value="someday"' in answer.text


@async_test
async def test_addresses_carry_the_title_and_old_ones_redirect(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        path = await write(s.admin, "Tracker moved!")
        n = post_id(path)
        assert path == f"/news/{n}-tracker-moved"
        for old in (f"/news/{n}", f"/news/{n}-old-title"):
            answer = await s.anonymous.get(old)
            assert answer.status_code == 301 and answer.headers["location"] == path
        for bad in ("/news/0", "/news/abc", "/news/1x", f"/news/{2**63}", "/news/99999"):
            assert (await s.anonymous.get(bad)).status_code == 404, bad


# what the public sees, and when


@async_test
async def test_drafts_and_scheduled_posts_stay_hidden(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        public = await write(s.admin, "Public post")
        draft = await write(s.admin, "Draft post", draft=True)
        later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        scheduled = await write(s.admin, "Scheduled post", publish_at=later)

        for viewer in (s.anonymous, s.members[Role.USER], s.members[Role.TRUSTED]):
            for where in ("/news", "/"):
                shown = await page(viewer, where)
                assert "Public post" in shown, where
                assert "Draft post" not in shown and "Scheduled post" not in shown, where
            await page(viewer, draft, status=404)
            await page(viewer, scheduled, status=404)
        feed = (await s.anonymous.get("/rss/news")).text
        assert "Public post" in feed and "Draft post" not in feed and "Scheduled post" not in feed

        # Staff see them, marked, to edit them; comments wait for publication.
        listed = await page(s.admin, "/news")
        assert "Draft post" in listed and '<span class="tag news-hidden">draft</span>' in listed
        assert '<span class="tag news-hidden">scheduled</span>' in listed
        shown = await page(s.members[Role.MODERATOR], draft)
        assert "Comments open once the post is published." in shown
        assert (await post_form(s.members[Role.USER], f"{draft}/comments",
                                body="early")).status_code == 404
        assert "Public post" in await page(s.anonymous, public)

        # The scheduled post appears by itself once its time has come.
        async with transaction(site.ctx.db) as session:
            await session.execute(update(NewsPost).where(NewsPost.id == post_id(scheduled))
                                  .values(publish_at=utcnow() - timedelta(minutes=1)))
        assert "Scheduled post" in await page(s.anonymous, "/news")
        assert "Scheduled post" in await page(s.anonymous, "/")
        assert "Scheduled post" in (await s.anonymous.get("/rss/news")).text
        await page(s.anonymous, scheduled)


@async_test
async def test_home_shows_the_latest_three(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        assert 'id="latest-news"' not in await page(s.anonymous, "/")  # no news, no section
        for n in range(4):
            await write(s.admin, f"Post number {n}", "word " * 100)
        home = await page(s.anonymous, "/")
        news = home[home.index('id="latest-news"'):home.index("</section>", home.index(
            'id="latest-news"'))]
        assert [f"Post number {n}" in news for n in range(4)] == [False, True, True, True]
        assert news.index("Post number 3") < news.index("Post number 1")
        assert "word word" in news and "…" in news  # an excerpt, cut short
        assert 'href="/news">All news</a>' in news


@async_test
async def test_the_list_pages(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        for n in range(12):
            await write(s.admin, f"Item {n:02}")
        first = await page(s.anonymous, "/news")
        assert "Item 11" in first and "Item 02" in first and "Item 01" not in first
        assert 'rel="next" href="/news?page=2"' in first and 'rel="prev"' not in first
        second = await page(s.anonymous, "/news?page=2")
        assert "Item 01" in second and "Item 00" in second and "Item 02" not in second
        assert 'rel="prev" href="/news"' in second and 'rel="next"' not in second
        assert "No more news here." in await page(s.anonymous, "/news?page=3")
        await page(s.anonymous, "/news?page=0", status=400)


@async_test
async def test_markup_in_posts_is_inert(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        path = await write(s.admin, ATTACK, "Hello **there** " + ATTACK)
        for viewer in (s.anonymous, s.admin):
            for where in (path, "/news", "/"):
                shown = main_part(await page(viewer, where))
                inert(shown)
                assert "&lt;script&gt;" in shown, where  # the title, as text
        shown = await page(s.anonymous, path)
        assert "Hello <strong>there</strong>" in shown
        inert(shown[shown.index("<head>"):shown.index("</head>")])
        # The editing form gives the text back as text.
        form = main_part(await page(s.admin, f"/news/{post_id(path)}/edit"))
        inert(form)
        channel = parse((await s.anonymous.get("/rss/news")).content)
        (entry,) = channel.findall("item")
        assert entry.findtext("title") == ATTACK
        description = entry.findtext("description") or ""
        assert "<strong>there</strong>" in description
        inert(description)


# comments


@async_test
async def test_comments_under_a_post(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        path = await write(s.admin, "Let us talk")
        n = post_id(path)

        shown = await page(s.anonymous, path)
        assert f'href="/login?next={path}%23comments">Log in to comment</a>' in shown
        assert login_redirect(await post_form(s.anonymous, f"{path}/comments", body="hi"))

        answer = await post_form(s.members[Role.USER], f"{path}/comments", body="Nice **news**")
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert location.startswith(f"{path}#comment-")
        comment_id = int(location.rsplit("-", 1)[1])
        # By the bare id too; the comment lands on the post's page.
        answer = await post_form(s.members[Role.TRUSTED], f"/news/{n}/comments", body="Agreed")
        assert answer.status_code == 303 and answer.headers["location"].startswith(path)

        shown = await page(s.anonymous, path)
        assert "Nice <strong>news</strong>" in item(shown, comment_id)
        assert "Comments <span class=\"muted\">(2)</span>" in shown

        # The author edits (inline and on the edit page), within the window.
        author = s.members[Role.USER]
        own = item(await page(author, path), comment_id)
        assert f'action="/news/comments/{comment_id}/edit"' in own
        assert f'action="/news/comments/{comment_id}/delete"' in own
        edit_page = await page(author, f"/news/comments/{comment_id}/edit")
        assert f'<a href="{path}">Let us talk</a>' in edit_page
        answer = await post_form(author, f"/news/comments/{comment_id}/edit", body="Edited")
        assert answer.status_code == 303 and answer.headers["location"] == (
            f"{path}#comment-{comment_id}")
        answer = await post_form(author, f"/news/comments/{comment_id}/edit", body=" ")
        assert answer.status_code == 400 and "cannot be empty" in answer.text
        # Others may not edit it; a trusted member may not remove it; a moderator may.
        assert (await post_form(s.members[Role.TRUSTED], f"/news/comments/{comment_id}/edit",
                                body="x")).status_code == 403
        assert (await post_form(s.members[Role.TRUSTED],
                                f"/news/comments/{comment_id}/delete")).status_code == 403
        answer = await post_form(s.members[Role.MODERATOR], f"/news/comments/{comment_id}/delete")
        assert answer.status_code == 303
        assert "Comment removed." in item(await page(s.anonymous, path), comment_id)
        await page(author, f"/news/comments/{comment_id}/edit", status=404)
        assert (await post_form(author, "/news/comments/999/edit", body="x")).status_code == 404


@async_test
async def test_comment_markup_is_inert(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        path = await write(s.admin)
        answer = await post_form(s.members[Role.USER], f"{path}/comments", body=ATTACK)
        comment_id = int(answer.headers["location"].rsplit("-", 1)[1])
        for viewer in (s.anonymous, s.members[Role.USER]):
            inert(item(await page(viewer, path), comment_id))


# the feed


@async_test
async def test_news_feed_is_rss_2(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        older = await write(s.admin, "Older & wiser")
        async with transaction(site.ctx.db) as session:
            await session.execute(update(NewsPost).where(NewsPost.id == post_id(older))
                                  .values(publish_at=utcnow() - timedelta(days=1)))
        newer = await write(s.admin, "Newer", "A *body*\n\n- with a list")
        answer = await s.anonymous.get("/rss/news")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/rss+xml; charset=utf-8"
        channel = parse(answer.content)
        assert channel.findtext("link") == f"{BASE_URL}/news"
        items = channel.findall("item")
        assert [i.findtext("title") for i in items] == ["Newer", "Older & wiser"]
        for entry, path in zip(items, (newer, older), strict=True):
            assert entry.findtext("link") == BASE_URL + path
            guid = entry.find("guid")
            assert guid is not None and guid.text == BASE_URL + path
            assert guid.get("isPermaLink") == "true"
            published = parsedate_to_datetime(entry.findtext("pubDate") or "")
            assert published.tzinfo is not None
            assert entry.find("enclosure") is None  # not a torrent feed
        assert "<li>with a list</li>" in (items[0].findtext("description") or "")
        assert parsedate_to_datetime(items[0].findtext("pubDate") or "") > parsedate_to_datetime(
            items[1].findtext("pubDate") or "")
        # The pages point feed readers at it.
        assert 'type="application/rss+xml"' in await page(s.anonymous, "/news")


@async_test
async def test_feed_is_rss_even_when_empty(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        answer = await site.client().get("/rss/news")
        root = ET.fromstring(answer.content)
        assert root.get("version") == "2.0" and root.find("channel/item") is None
