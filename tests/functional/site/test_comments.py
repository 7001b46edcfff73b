"""Comments through the real site: forms, who may do what, and what the page shows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from swarmdex.comments.models import Comment
from swarmdex.db.engine import transaction
from swarmdex.db.models import Category, Role, Torrent, TorrentFile, User, swarm_key, utcnow
from swarmdex.web.security import CSRF_FIELD

from .helpers import Site, async_test, csrf_token, post_form, running_site

INFO = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:" + bytes(20) + b"e"
V1 = hashlib.sha1(INFO).digest()
PAGE = f"/t/{V1.hex()}"
ROLES = list(Role)


@dataclass
class Scene:
    site: Site
    anonymous: httpx.AsyncClient
    # One logged-in browser per role, each user named after its role; "other" is a second
    # ordinary user, for "someone else's comment".
    members: dict[str, httpx.AsyncClient]


async def scene(site: Site) -> Scene:
    """A torrent and a logged-in browser per role (accounts inserted directly: no password
    hashing, which keeps these tests fast)."""
    async with transaction(site.ctx.db) as session:
        category = Category(slug="linux", name="Linux")
        session.add(Torrent(
            info_hash_v1=V1, swarm_key=swarm_key(V1, None), title="A text file", name="a.txt",
            category=category, size=5, file_count=1, piece_length=16384, info_dict=INFO,
            files=[TorrentFile(position=0, path="a.txt", size=5)],
        ))
        names = {role.value: role for role in ROLES} | {"other": Role.USER}
        session.add_all(User(name=name, password_hash="!", role=role) for name, role in names.items())
    members = {name: await site.logged_in(name) for name in names}
    return Scene(site, site.client(), members)


async def comment(client: httpx.AsyncClient, body: str) -> int:
    answer = await post_form(client, f"{PAGE}/comments", body=body)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{PAGE}#comment-")
    return int(location.rsplit("-", 1)[1])


async def stored(site: Site, comment_id: int) -> Comment:
    async with site.ctx.db() as session:
        return await session.get_one(Comment, comment_id)


async def count(site: Site) -> int:
    async with site.ctx.db() as session:
        return int(await session.scalar(select(func.count()).select_from(Comment)) or 0)


class Elements(HTMLParser):
    """The elements of an HTML fragment with their attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser.found


async def text_of(client: httpx.AsyncClient, path: str) -> str:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


def login_redirect(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def item(page: str, comment_id: int) -> str:
    """The part of the page that shows one comment (up to the next one, or the list's end)."""
    start = page.find(f'id="comment-{comment_id}"')
    assert start >= 0, f"comment {comment_id} is not on the page"
    ends = [i for i in (page.find('<li class="comment', start), page.find("</ol>", start)) if i >= 0]
    return page[start:min(ends)]


# reading and writing


@async_test
async def test_visitors_see_comments_and_a_link_to_log_in(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        comment_id = await comment(s.members["user"], "Seeding **all week**.")
        page = (await s.anonymous.get(PAGE)).text
        assert "Seeding <strong>all week</strong>." in item(page, comment_id)
        assert f'href="/login?next={PAGE}%23comments">Log in to comment</a>' in page
        assert f'action="{PAGE}/comments"' not in page
        assert f"/comments/{comment_id}/edit" not in page  # no edit or remove forms for visitors
        assert f"/comments/{comment_id}/delete" not in page
        assert f'href="/comments/{comment_id}/report"' in page  # but anyone may report one


@async_test
async def test_members_post_and_read_back(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        page = (await s.members["trusted"].get(PAGE)).text
        assert f'action="{PAGE}/comments"' in page and "Log in to comment" not in page
        first = await comment(s.members["trusted"], "first")
        second = await comment(s.members["moderator"], "second\r\n\r\n- a list")
        page = (await s.anonymous.get(PAGE)).text
        assert page.index(f'id="comment-{first}"') < page.index(f'id="comment-{second}"')
        assert '<b><a href="/u/moderator">moderator</a></b>' in item(page, second)
        assert '<span class="tag">moderator</span>' in item(page, second)  # staff are marked
        assert "<li>a list</li>" in item(page, second)
        assert "Comments <span class=\"muted\">(2)</span>" in page


@async_test
async def test_comment_markup_is_inert(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        attack = (
            '<script>alert("x")</script> <img src=x onerror=alert(1)> '
            "[click](javascript:alert(1)) <a href=\"http://evil\" onclick=\"steal()\">x</a> "
            '"><svg onload=alert(1)>'
        )
        comment_id = await comment(s.members["user"], attack)
        for viewer in (s.anonymous, s.members["user"]):  # the author also gets it in a textarea
            shown = item((await viewer.get(PAGE)).text, comment_id)
            elements = Elements.of(shown)
            assert not {"script", "img", "svg"} & {tag for tag, _ in elements}
            for tag, attributes in elements:
                assert not any(name.startswith("on") for name, _ in attributes), tag
                assert not any((value or "").startswith("javascript") for _, value in attributes)
            assert "&lt;script&gt;" in shown  # shown as text, not dropped silently
        edit_page = await text_of(s.members["user"], f"/comments/{comment_id}/edit")
        assert "<script" not in edit_page and "&lt;script&gt;" in edit_page


@async_test
async def test_refused_text_comes_back_with_the_reason(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        user = s.members["user"]
        empty = await post_form(user, f"{PAGE}/comments", body=" \r\n ")
        assert empty.status_code == 400 and "A comment cannot be empty." in empty.text
        long = "word " * 2001
        too_long = await post_form(user, f"{PAGE}/comments", body=long)
        assert too_long.status_code == 400
        assert "at most 10,000 fit" in too_long.text
        assert long.strip() in too_long.text  # what was typed is not lost
        assert f'action="{PAGE}/comments"' in too_long.text
        missing = await post_form(user, f"{PAGE}/comments")  # no body field at all
        assert missing.status_code == 400
        assert await count(site) == 0


@async_test
async def test_unknown_and_removed_torrents_take_no_comments(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        unknown = await post_form(s.members["user"], f"/t/{'ab' * 20}/comments", body="hi")
        assert unknown.status_code == 404
        async with transaction(site.ctx.db) as session:
            await session.execute(update(Torrent).values(deleted_at=utcnow()))
        removed = await post_form(s.members["user"], f"{PAGE}/comments", body="hi")
        assert removed.status_code == 404
        assert await count(site) == 0


# forms need the CSRF field and a login


@async_test
async def test_forms_without_the_csrf_field_are_refused(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        user = s.members["user"]
        comment_id = await comment(user, "original")
        token = await csrf_token(user)
        for path, fields in (
            (f"{PAGE}/comments", {"body": "forged"}),
            (f"/comments/{comment_id}/edit", {"body": "forged"}),
            (f"/comments/{comment_id}/delete", {}),
        ):
            for forged in ({}, {CSRF_FIELD: "x" * 43}, {CSRF_FIELD: token[::-1]}):
                answer = await user.post(path, data=fields | forged)
                assert answer.status_code == 403, (path, forged)
        assert await count(site) == 1
        kept = await stored(site, comment_id)
        assert (kept.body, kept.deleted_at) == ("original", None)


@async_test
async def test_visitors_are_sent_to_log_in(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        comment_id = await comment(s.members["user"], "mine")
        for path in (f"{PAGE}/comments", f"/comments/{comment_id}/edit", f"/comments/{comment_id}/delete"):
            assert login_redirect(await post_form(s.anonymous, path, body="anonymous")), path
        answer = await s.anonymous.get(f"/comments/{comment_id}/edit")
        assert answer.headers["location"] == f"/login?next=/comments/{comment_id}/edit"
        assert await count(site) == 1
        assert (await stored(site, comment_id)).body == "mine"


# editing


@async_test
async def test_author_edits_within_fifteen_minutes(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        user = s.members["user"]
        comment_id = await comment(user, "typo")
        assert "<summary>Edit</summary>" in item((await user.get(PAGE)).text, comment_id)
        answer = await post_form(user, f"/comments/{comment_id}/edit", body="fixed")
        assert (answer.status_code, answer.headers["location"]) == (303, f"{PAGE}#comment-{comment_id}")
        shown = item((await s.anonymous.get(PAGE)).text, comment_id)
        assert "fixed" in shown and "(edited)" in shown
        refused = await post_form(user, f"/comments/{comment_id}/edit", body="")
        assert refused.status_code == 400 and "cannot be empty" in refused.text
        assert (await stored(site, comment_id)).body == "fixed"

        # Sixteen minutes later: no edit form any more, and a stale one is refused.
        async with transaction(site.ctx.db) as session:
            (await session.get_one(Comment, comment_id)).created_at = utcnow() - timedelta(minutes=16)
        assert "<summary>Edit</summary>" not in item((await user.get(PAGE)).text, comment_id)
        late = await post_form(user, f"/comments/{comment_id}/edit", body="too late")
        assert late.status_code == 403 and "edited for 15 minutes" in late.text
        assert (await user.get(f"/comments/{comment_id}/edit")).status_code == 403
        assert (await stored(site, comment_id)).body == "fixed"


@pytest.mark.parametrize("editor", ["other", "trusted", "moderator", "admin"])
@async_test
async def test_only_the_author_edits(tmp_path: Path, editor: str) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        comment_id = await comment(s.members["user"], "my words")
        client = s.members[editor]
        assert "<summary>Edit</summary>" not in item((await client.get(PAGE)).text, comment_id)
        answer = await post_form(client, f"/comments/{comment_id}/edit", body="your words")
        assert answer.status_code == 403
        assert (await client.get(f"/comments/{comment_id}/edit")).status_code == 403
        assert (await stored(site, comment_id)).body == "my words"


@async_test
async def test_edit_page_of_its_own(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        user = s.members["user"]
        comment_id = await comment(user, "draft")
        page = await text_of(user, f"/comments/{comment_id}/edit")
        assert ">draft</textarea>" in page
        assert f'action="/comments/{comment_id}/edit"' in page
        assert (await user.get("/comments/999999/edit")).status_code == 404
        assert (await user.get("/comments/0/edit")).status_code == 404  # not an id
        assert (await user.get(f"/comments/{2**63}/edit")).status_code == 404
        assert (await post_form(user, "/comments/999999/edit", body="x")).status_code == 404


# removing


@pytest.mark.parametrize(
    ("remover", "allowed"),
    [("user", True), ("other", False), ("trusted", False), ("moderator", True), ("admin", True)],
)
@async_test
async def test_who_removes_a_comment(tmp_path: Path, remover: str, allowed: bool) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        comment_id = await comment(s.members["user"], "remove me")
        client = s.members[remover]
        shown = item((await client.get(PAGE)).text, comment_id)
        assert ("<summary>Remove</summary>" in shown) is allowed
        answer = await post_form(client, f"/comments/{comment_id}/delete")
        if allowed:
            assert (answer.status_code, answer.headers["location"]) == (303, f"{PAGE}#comment-{comment_id}")
            shown = item((await s.anonymous.get(PAGE)).text, comment_id)
            assert "Comment removed." in shown and "remove me" not in shown
            assert (await stored(site, comment_id)).body == ""
            # Removed stays removed: no edit, and nothing to remove again.
            assert (await post_form(s.members["user"], f"/comments/{comment_id}/edit",
                                    body="back")).status_code == 404
        else:
            assert answer.status_code == 403
            assert (await stored(site, comment_id)).deleted_at is None


@async_test
async def test_moderators_clean_up_under_removed_torrents(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        comment_id = await comment(s.members["user"], "spam")
        async with transaction(site.ctx.db) as session:
            await session.execute(update(Torrent).values(deleted_at=utcnow()))
        answer = await post_form(s.members["moderator"], f"/comments/{comment_id}/delete")
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        assert (await post_form(s.members["moderator"], "/comments/999999/delete")).status_code == 404


@async_test
async def test_a_flood_of_comments_is_slowed_down_without_losing_the_text(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        s = await scene(site)
        for n in range(6):
            await comment(s.members["user"], f"comment {n}")
        answer = await post_form(s.members["user"], f"{PAGE}/comments", body="one too many")
        assert answer.status_code == 429
        assert 0 < int(answer.headers["retry-after"]) <= 10
        assert "You are commenting very fast." in answer.text and ">one too many</textarea>" in answer.text
        await comment(s.members["other"], "someone else may still talk")
        assert await count(site) == 7
