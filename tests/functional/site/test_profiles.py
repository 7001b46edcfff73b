"""Profiles through the real ASGI app: the public page and its JSON twin, anonymous uploads
kept anonymous, the settings form (validation, CSRF), escaping, identicons, 404s."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import httpx
from sqlalchemy import update

from swarmdex.accounts.services import disable_user, user_by_name
from swarmdex.db.engine import transaction
from swarmdex.db.models import Category, Role, Torrent, User, swarm_key
from swarmdex.web.pages.profiles import UPLOADS_PER_PAGE
from swarmdex.web.security import CSRF_FIELD
from tests.unit.torrents.support import TorrentFactory

from .helpers import Site, async_test, csrf_token, post_form, running_site

TORRENT_TYPE = "application/x-bittorrent"
EMAIL = "alice.private@example.org"


async def add_category(site: Site) -> None:
    async with transaction(site.ctx.db) as session:
        session.add(Category(slug="linux", name="Linux"))


async def upload(client: httpx.AsyncClient, data: bytes, title: str, *, anonymous: bool = False) -> str:
    """Upload through the form; the new torrent's page."""
    fields = {CSRF_FIELD: await csrf_token(client), "category": "linux", "title": title}
    if anonymous:
        fields["anonymous"] = "1"
    answer = await client.post("/upload", data=fields,
                               files={"file": ("x.torrent", data, TORRENT_TYPE)})
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


async def save(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    values = {"display_name": "", "bio": "", "email": ""} | fields
    return await post_form(client, "/account/profile", **values)


async def stored_user(site: Site, name: str) -> User:
    async with site.ctx.db() as session:
        user = await user_by_name(session, name)
    assert user is not None
    return user


def uploader_fact(page: str) -> str:
    """The "Uploaded ... by X" entry of a torrent page."""
    found = re.search(r"<dt>Uploaded</dt>\s*<dd>(.*?)</dd>", page, re.S)
    assert found is not None
    return found.group(1)


@async_test
async def test_profile_lists_public_uploads_and_never_anonymous_ones(tmp_path: Path) -> None:
    make = TorrentFactory(tmp_path / "torrents")
    async with running_site(tmp_path) as site:
        await add_category(site)
        alice = await site.logged_in("alice")
        public = await upload(alice, make(), "Public one")
        await upload(alice, make(), "Public two")
        hidden = await upload(alice, make(), "Secret upload", anonymous=True)
        visitor = site.client()

        page = await visitor.get("/u/alice")
        assert page.status_code == 200
        assert "Public one" in page.text and "Public two" in page.text
        assert "Secret upload" not in page.text and hidden not in page.text
        assert re.search(r"<b>2</b><span>uploads</span>", page.text)
        assert 'href="/rss/user/alice"' in page.text
        assert '<img class="avatar" src="/u/alice/avatar.svg"' in page.text

        # The public torrent names its uploader with a link; the anonymous one names nobody.
        assert '<a href="/u/alice">alice</a>' in uploader_fact((await visitor.get(public)).text)
        secret_page = (await visitor.get(hidden)).text
        assert "anonymous" in uploader_fact(secret_page)
        assert "alice" not in uploader_fact(secret_page) and "/u/alice" not in secret_page

        api = (await visitor.get("/api/v1/users/alice")).json()
        assert api["upload_count"] == 2
        assert [t["title"] for t in api["uploads"]] == ["Public two", "Public one"]
        assert "Secret upload" not in str(api)
        assert (await visitor.get(f"/api/v1/torrents/{hidden.rsplit('/', 1)[1]}")).json()["uploader"] is None

        twin = await visitor.get("/u/alice", headers={"Accept": "application/json"})
        assert twin.json() == api and "accept" in twin.headers["vary"].lower()


@async_test
async def test_uploads_are_paged_without_anonymous_ones(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await add_category(site)
        owner = await site.create_user("bob")
        async with transaction(site.ctx.db) as session:
            category = await session.get_one(Category, 1)
            for number in range(UPLOADS_PER_PAGE + 3):
                info = b"torrent %d" % number
                v1 = hashlib.sha1(info).digest()
                session.add(Torrent(
                    info_hash_v1=v1, swarm_key=swarm_key(v1, None), title=f"Upload {number:02}",
                    name="x", category=category, uploader_id=owner.id, size=1, file_count=1,
                    piece_length=16384, info_dict=info, anonymous=number in (3, 27),
                ))
        visitor = site.client()
        first = (await visitor.get("/u/bob")).text
        titles = re.findall(r"Upload (\d\d)</a>", first)
        assert len(titles) == UPLOADS_PER_PAGE and "03" not in titles and "27" not in titles
        older = re.search(r'rel="next" href="([^"]+)"', first)
        assert older is not None
        second = (await visitor.get(older.group(1).replace("&amp;", "&"))).text
        rest = re.findall(r"Upload (\d\d)</a>", second)
        assert sorted(titles + rest) == [f"{n:02}" for n in range(UPLOADS_PER_PAGE + 3) if n not in (3, 27)]
        assert re.search(rf"<b>{UPLOADS_PER_PAGE + 1}</b><span>uploads</span>", second)
        assert 'rel="next"' not in second and "« Newest" in second


@async_test
async def test_settings_are_saved_and_shown_but_never_the_address(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        form = await alice.get("/account/profile")
        assert form.status_code == 200 and 'name="display_name"' in form.text
        assert 'name="anonymous_by_default" value="1">' in form.text  # not ticked yet
        assert 'name="anonymous" value="1">' in (await alice.get("/upload")).text

        answer = await save(alice, display_name="  Alice  Liddell ", bio="I like *rabbits*.",
                            email=EMAIL, anonymous_by_default="1", show_donor_badge="1")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/profile?done=saved"
        form = await alice.get("/account/profile?done=saved")
        assert "Your profile was saved." in form.text
        assert EMAIL in form.text  # its owner sees it, on this page only
        assert 'name="anonymous_by_default" value="1" checked' in form.text
        # The upload form now starts with "anonymous" ticked.
        assert 'name="anonymous" value="1" checked' in (await alice.get("/upload")).text

        visitor = site.client()
        page = await visitor.get("/u/alice")
        assert "<h1>Alice Liddell</h1>" in page.text and "<b>alice</b>" in page.text
        assert "<em>rabbits</em>" in page.text
        api = await visitor.get("/api/v1/users/alice")
        assert api.json()["display_name"] == "Alice Liddell"
        assert api.json()["bio"] == "I like *rabbits*."
        # Opted in, but the site does not know of a donation: no badge yet.
        assert "Donor" not in page.text and api.json()["badges"] == []
        for answer in (page, api, await alice.get("/u/alice"),
                       await visitor.get("/u/alice", headers={"Accept": "application/json"})):
            assert EMAIL not in answer.text and "example.org" not in answer.text


@async_test
async def test_badges_for_roles_and_donors_who_opted_in(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        mod = await site.logged_in("mod", role=Role.MODERATOR)
        async with transaction(site.ctx.db) as session:
            await session.execute(update(User).where(User.name == "mod").values(is_donor=True))
        visitor = site.client()
        page = (await visitor.get("/u/mod")).text
        assert 'class="badge badge-moderator"' in page and "badge-donor" not in page
        assert (await save(mod, show_donor_badge="1")).status_code == 303
        page = (await visitor.get("/u/mod")).text
        assert 'class="badge badge-moderator"' in page and 'class="badge badge-donor"' in page
        api = (await visitor.get("/api/v1/users/mod")).json()
        assert [b["kind"] for b in api["badges"]] == ["moderator", "donor"]
        assert api["role"] == "moderator"


@async_test
async def test_settings_errors_say_what_is_wrong_and_keep_what_was_typed(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        answer = await save(alice, display_name="x" * 65, bio="b" * 5001, email="not-an-address",
                            anonymous_by_default="1")
        assert answer.status_code == 400
        text = answer.text
        assert "Please fix these:" in text
        assert "The display name is 65 characters long; at most 64 fit." in text
        assert "The bio is 5,001 characters long; at most 5,000 fit." in text
        assert "That does not look like an e-mail address" in text
        assert 'value="not-an-address"' in text and "x" * 65 in text
        assert 'name="anonymous_by_default" value="1" checked' in text
        assert text.count('aria-invalid="true"') == 3

        answer = await save(alice, display_name="bad\x07bell")
        assert answer.status_code == 400 and "control characters" in answer.text
        user = await stored_user(site, "alice")
        assert (user.display_name, user.bio, user.email, user.anonymous_by_default) == ("", "", None, False)


@async_test
async def test_settings_need_the_csrf_field_and_a_login(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        await csrf_token(alice)
        answer = await alice.post("/account/profile", data={"display_name": "Forged"})
        assert answer.status_code == 403
        answer = await alice.post("/account/profile",
                                  data={CSRF_FIELD: "x" * 43, "display_name": "Forged"})
        assert answer.status_code == 403
        assert (await stored_user(site, "alice")).display_name == ""

        visitor = site.client()
        answer = await visitor.get("/account/profile")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/account/profile"
        answer = await post_form(visitor, "/account/profile", display_name="Nobody")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"


class Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str | None]]]:
        parser = cls()
        parser.feed(html)
        return parser.found


@async_test
async def test_markup_in_display_name_and_bio_is_inert(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        mallory = await site.logged_in("mallory")
        bio = (
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
            "[click](javascript:alert(3)) ![pixel](https://tracker.example/p.gif)\n\n"
            '<a href="https://evil.example" style="color:red">raw</a>'
        )
        name = '<script>alert("x")</script>&"'
        assert (await save(mallory, display_name=name, bio=bio)).status_code == 303
        for page in (await site.client().get("/u/mallory"), await mallory.get("/account/profile")):
            elements = Elements.of(page.text)
            tags = [tag for tag, _ in elements]
            assert "script" not in tags
            # The one image is the identicon, from the site itself.
            assert [a["src"] for tag, a in elements if tag == "img"] == ["/u/mallory/avatar.svg"]
            for tag, attributes in elements:
                assert not any(key.startswith("on") or key == "style" for key in attributes), tag
                assert not (attributes.get("href") or "").startswith(("javascript:", "https://evil"))
            assert "&lt;script&gt;alert(" in page.text
        profile = (await site.client().get("/u/mallory")).text
        assert "<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#34;</h1>" in profile
        api = (await site.client().get("/api/v1/users/mallory")).json()
        assert api["display_name"] == name  # JSON carries the text; escaping is the reader's


@async_test
async def test_comment_count_and_author_link(tmp_path: Path) -> None:
    make = TorrentFactory(tmp_path / "torrents")
    async with running_site(tmp_path) as site:
        await add_category(site)
        alice = await site.logged_in("alice")
        page = await upload(alice, make(), "Talked about")
        for body in ("first", "second"):
            assert (await post_form(alice, f"{page}/comments", body=body)).status_code == 303
        profile = (await site.client().get("/u/alice")).text
        assert re.search(r"<b>2</b><span>comments</span>", profile)
        assert '<b><a href="/u/alice">alice</a></b>' in (await site.client().get(page)).text


@async_test
async def test_identicon_is_a_cacheable_svg_of_our_own(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("alice")
        await site.create_user("bob")
        visitor = site.client()
        answer = await visitor.get("/u/alice/avatar.svg")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/svg+xml"
        assert answer.headers["cache-control"].startswith("public, max-age=")
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        root = ET.fromstring(answer.text)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "<script" not in answer.text and "href" not in answer.text
        assert (await visitor.get("/u/ALICE/avatar.svg")).text == answer.text
        assert (await visitor.get("/u/bob/avatar.svg")).text != answer.text


@async_test
async def test_names_in_any_case_lead_to_one_address(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("Alice")
        answer = await site.client().get("/u/ALICE?after=x")
        assert answer.status_code == 301 and answer.headers["location"] == "/u/Alice?after=x"
        assert (await site.client().get("/api/v1/users/alice")).json()["name"] == "Alice"


@async_test
async def test_unknown_members_get_a_friendly_404(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        visitor = site.client()
        page = await visitor.get("/u/nobody-here")
        assert page.status_code == 404
        assert "text/html" in page.headers["content-type"]
        assert "There is no member of that name on this site." in page.text
        assert "Back to the home page" in page.text
        api = await visitor.get("/api/v1/users/nobody-here")
        assert api.status_code == 404 and "no member of that name" in api.json()["detail"]
        assert (await visitor.get("/u/nobody-here/avatar.svg")).status_code == 404
        assert (await visitor.get("/u/" + "x" * 500)).status_code == 404


@async_test
async def test_disabled_accounts_keep_a_page_without_their_words(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        spammer = await site.logged_in("spammer", role=Role.TRUSTED)
        await save(spammer, bio="Buy cheap things at my shop")
        async with transaction(site.ctx.db) as session:
            await disable_user(session, await stored_user(site, "spammer"))
        page = (await site.client().get("/u/spammer")).text
        assert "This account has been disabled." in page
        assert "cheap things" not in page and "badge-trusted" not in page
