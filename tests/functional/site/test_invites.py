"""Invites on the site, in private mode: making and revoking codes on /account/invites,
registering with one (and not without, nor with a used one), the staff tree on
/moderation/invites, the JSON API, CSRF; and nothing of it on a public site."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Final

import httpx
from sqlalchemy import select

from swarmdex.accounts.services import user_by_name
from swarmdex.db.models import Role
from swarmdex.private import invites
from swarmdex.private.models import Invite
from swarmdex.web.auth import SESSION_COOKIE

from .helpers import BASE_URL, PASSWORD, Site, async_test, post_form, running_site

CODE_RE: Final = re.compile(r'id="new-invite-code"[^>]* value="([^"]+)"')
LINK_RE: Final = re.compile(r'id="new-invite-link"[^>]* value="([^"]+)"')


async def _make(client: httpx.AsyncClient, note: str = "") -> str:
    answer = await post_form(client, "/account/invites", note=note)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    (code,) = CODE_RE.findall(answer.text)
    (link,) = LINK_RE.findall(answer.text)
    assert html.unescape(link) == f"{BASE_URL}/register?invite={code}"
    return code


async def _register(site: Site, name: str, invite: str | None) -> httpx.Response:
    visitor = site.client()
    fields = {"name": name, "password": PASSWORD, "password2": PASSWORD}
    if invite is not None:
        fields["invite"] = invite
    return await post_form(visitor, "/register", **fields)


async def _exists(site: Site, name: str) -> bool:
    async with site.ctx.db() as session:
        return await user_by_name(session, name) is not None


@async_test
async def test_a_member_invites_someone_who_registers_with_the_link(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice = await site.logged_in("alice")
        account = await alice.get("/account")
        assert 'href="/account/invites"' in account.text
        page = await alice.get("/account/invites")
        assert page.status_code == 200
        assert "You have 0 of 2 invites out" in page.text
        code = await _make(alice, note="for bob")

        # The link brings a stranger through the members-only door to a filled-in form.
        visitor = site.client()
        form = await visitor.get(f"/register?invite={code}")
        assert form.status_code == 200
        assert f'name="invite" type="text" value="{code}"' in form.text
        answer = await post_form(visitor, "/register", name="bob", password=PASSWORD,
                                 password2=PASSWORD, invite=code)
        assert answer.status_code == 303, answer.text
        assert SESSION_COOKIE in visitor.cookies
        assert (await visitor.get("/account")).status_code == 200

        page = await alice.get("/account/invites")
        assert "You have 1 of 2 invites out" in page.text
        assert re.search(r'Used\s+by <a href="/u/bob">bob</a>', page.text)
        assert code not in page.text  # shown once, in the answer that made it


@async_test
async def test_registration_needs_a_usable_code(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice = await site.logged_in("alice")
        code = await _make(alice)
        message = html.escape(invites.NOT_USABLE)
        for name, invite in (("nocode", None), ("empty", ""), ("wrong", invites.new_code())):
            answer = await _register(site, name, invite)
            assert answer.status_code == 400, name
            assert message in answer.text
            assert not await _exists(site, name)
        form = await site.client().get("/register")
        assert 'name="invite"' in form.text and "You need an invite code" in form.text

        assert (await _register(site, "bob", code.upper())).status_code == 303
        used = await _register(site, "carol", code)
        assert used.status_code == 400 and message in used.text
        # The code typed stays in the form, the password does not.
        assert f'value="{code}"' in used.text and PASSWORD not in used.text
        assert not await _exists(site, "carol")


@async_test
async def test_revoking_on_the_invites_page(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice = await site.logged_in("alice")
        code = await _make(alice)
        await _make(alice)
        full = await post_form(alice, "/account/invites")
        assert full.status_code == 403 and "You have 2 of your 2 invites out" in full.text
        async with site.ctx.db() as session:
            first = await session.scalar(select(Invite.id).order_by(Invite.id))
        # Not someone else's.
        mallory = await site.logged_in("mallory")
        assert (await post_form(mallory, f"/account/invites/{first}/revoke")).status_code == 404
        answer = await post_form(alice, f"/account/invites/{first}/revoke")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/invites?done=revoked"
        page = await alice.get("/account/invites?done=revoked")
        assert "The invite was revoked" in page.text and "Revoked" in page.text
        assert (await _register(site, "bob", code)).status_code == 400
        await _make(alice)  # its place came back


@async_test
async def test_forms_carry_the_csrf_field(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice = await site.logged_in("alice")
        await _make(alice)
        staff = await site.logged_in("mod", role=Role.MODERATOR)
        for client, path in ((alice, "/account/invites"), (alice, "/account/invites/1/revoke"),
                             (staff, "/moderation/invites/1/revoke")):
            answer = await client.post(path, data={"note": "x"})
            assert answer.status_code == 403, path
            assert "This form has expired" in answer.text
        assert (await _register(site, "bob", None)).status_code == 400
        visitor = site.client()
        await visitor.get("/register")
        refused = await visitor.post("/register", data={"name": "bob", "password": PASSWORD,
                                                        "password2": PASSWORD})
        assert refused.status_code == 403
        async with site.ctx.db() as session:
            assert (await session.scalar(select(Invite.revoked_at))) is None


@async_test
async def test_staff_see_the_tree_and_revoke_any_code(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        assert (await _register(site, "ann", await _make(admin))).status_code == 303
        ann = await site.logged_in("ann")
        assert (await _register(site, "cat", await _make(ann))).status_code == 303
        await _make(ann, note="for dan")
        alice = await site.logged_in("alice")
        assert (await alice.get("/moderation/invites")).status_code == 403

        mod = await site.logged_in("mod", role=Role.MODERATOR)
        page = await mod.get("/moderation/invites")
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        # root > ann > cat, nested; then alice and mod at the top level.
        assert re.search(r'<a href="/u/root">root</a>.*?invited 1, 2 in all.*?<ul>'
                         r'.*?<a href="/u/ann">ann</a>.*?invited 1.*?<ul>.*?<a href="/u/cat">cat</a>'
                         r'.*?</ul></li></ul></li>.*?<a href="/u/alice">alice</a>', text), text
        assert text.count("<ul") == text.count("</ul>")
        assert "for dan" in text
        async with site.ctx.db() as session:
            open_id = await session.scalar(select(Invite.id).where(Invite.note == "for dan"))
        answer = await post_form(mod, f"/moderation/invites/{open_id}/revoke")
        assert answer.status_code == 303
        assert "for dan" not in (await mod.get("/moderation/invites")).text
        audit = await admin.get("/admin/audit?action=invite.")
        assert "invite.revoke" in audit.text and "invite.make" in audit.text


@async_test
async def test_the_invites_api(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        token = await site.api_token("alice")
        api = site.client()
        api.headers["Authorization"] = f"Bearer {token}"
        assert (await site.client().get("/api/v1/invites")).status_code == 401
        made = await api.post("/api/v1/invites", json={"note": "for bob"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["state"] == "open" and body["note"] == "for bob"
        assert body["register_url"] == f"{BASE_URL}/register?invite={body['code']}"
        assert (await api.post("/api/v1/invites")).status_code == 201  # no body: no note
        full = await api.post("/api/v1/invites", json={})
        assert full.status_code == 403 and "invites out" in full.json()["detail"]
        assert (await api.post("/api/v1/invites", json={"note": "x" * 201})).status_code == 422
        for raw in (b'{"note": ""}', b"\xff\xfe"):  # not sent as JSON: refused, not a 500
            answer = await api.post("/api/v1/invites", content=raw,
                                    headers={"Content-Type": "text/plain"})
            assert answer.status_code == 422, answer.text

        assert (await _register(site, "bob", body["code"])).status_code == 303
        listed = (await api.get("/api/v1/invites")).json()
        assert (listed["limit"], listed["out"], listed["left"]) == (2, 2, 0)
        states = [(i["id"], i["state"], i["used_by"]) for i in listed["invites"]]
        assert states == [(body["id"] + 1, "open", None), (body["id"], "used", "bob")]
        assert "code" not in listed["invites"][0]

        assert (await api.delete(f"/api/v1/invites/{body['id']}")).status_code == 409
        gone = await api.delete(f"/api/v1/invites/{body['id'] + 1}")
        assert gone.status_code == 204 and gone.content == b""
        assert (await api.delete("/api/v1/invites/999")).status_code == 404
        listed = (await api.get("/api/v1/invites")).json()
        assert listed["invites"][0]["state"] == "revoked" and listed["left"] == 1


@async_test
async def test_a_public_site_has_no_invites(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        for path in ("/account/invites", "/moderation/invites"):
            assert (await alice.get(path)).status_code == 404, path
        assert (await post_form(alice, "/account/invites")).status_code == 404
        assert 'href="/account/invites"' not in (await alice.get("/account")).text
        token = await site.api_token("alice")
        answer = await site.client().get("/api/v1/invites",
                                         headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        form = await site.client().get("/register?invite=abc")
        assert 'name="invite"' not in form.text
        assert (await _register(site, "bob", None)).status_code == 303
        assert (await _register(site, "carol", "anything")).status_code == 303
