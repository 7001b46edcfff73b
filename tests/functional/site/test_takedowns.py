"""Notice-and-takedown through the real app: the notice form, the staff queue and its
decisions, the 451 stub, the tracker's refusal, counter-notices, the transparency report."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from swarmdex.accounts.services import create_token
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Role, User
from swarmdex.protocol.errors import ProtocolError
from swarmdex.takedowns import services
from swarmdex.takedowns.receipts import receipt_path
from swarmdex.torrents.services import ensure_default_categories
from swarmdex.tracker.logic import TAKEN_DOWN
from tests.functional.site import helpers
from tests.unit.torrents.support import (
    CSRF,
    Site,
    TorrentFactory,
    async_test,
    form_fields,
    running_site,
)

from .test_torrents import TORRENT_TYPE, _announce, _api_upload, _served

CLAIMANT = "Ada Claimant"
EMAIL = "ada.claimant@example.org"


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


def notice_fields(torrents: str, **changes: str) -> dict[str, str]:
    fields = {"claimant_name": CLAIMANT, "organisation": "", "email": EMAIL,
              "work": "The film Example (2024)", "torrents": torrents, "good_faith": "1",
              "accurate": "1", "signature": CLAIMANT}
    return fields | changes


async def file_notice(client: httpx.AsyncClient, torrents: str, **changes: str) -> int:
    answer = await client.post("/notice", data=form_fields(**notice_fields(torrents, **changes)))
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/notice/(\d+)/received/[\w-]{22}", answer.headers["location"])
    assert match is not None
    return int(match.group(1))


class Accounts:
    """Logged-in cookies per account, so one client can act as each in turn."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.cookies: dict[str, httpx.Cookies] = {}
        self.users: dict[str, User] = {}

    async def add(self, name: str, role: Role = Role.USER) -> User:
        self.users[name] = await self.site.login(name, role)
        self.cookies[name] = self.site.client.cookies
        return self.users[name]

    def act_as(self, name: str | None) -> httpx.AsyncClient:
        if name is None:
            self.site.logout()
        else:
            self.site.client.cookies = self.cookies[name]
        return self.site.client


async def _uploaded(site: Site, accounts: Accounts, make: TorrentFactory, name: str = "up") -> tuple[bytes, str]:
    """A torrent uploaded by `name` (logged in); its data and swarm key in hex."""
    data = make()
    client = accounts.act_as(name)
    answer = await client.post("/upload", data=form_fields(category="linux", title="Contested upload"),
                               files={"file": ("up.torrent", data, TORRENT_TYPE)})
    assert answer.status_code == 303, answer.text
    return data, answer.headers["location"].removeprefix("/t/")


@async_test
async def test_takedown_flow_on_the_site(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        await accounts.add("mod", Role.MODERATOR)
        data, key = await _uploaded(site, accounts, make)
        meta = parse_torrent(data)
        assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
        assert await _served(site, meta.info_hash_v1)

        # A visitor files a notice; the torrent page offers the form.
        visitor = accounts.act_as(None)
        form = await visitor.get(f"/notice?t={key}")
        assert form.status_code == 200 and f"/t/{key}" in form.text
        number = await file_notice(visitor, f"http://testserver/t/{key}")
        received = await visitor.get(receipt_path(site.ctx.secret, number))
        assert f"Notice #{number} received" in received.text
        assert EMAIL not in received.text and CLAIMANT not in received.text

        # A moderator sees it in the queue and accepts it.
        mod = accounts.act_as("mod")
        queue = await mod.get("/takedowns")
        assert queue.status_code == 200 and f"#{number}" in queue.text
        shown = await mod.get(f"/takedowns/{number}")
        assert EMAIL in shown.text and CLAIMANT in shown.text  # staff see who sent it
        accepted = await mod.post(f"/takedowns/{number}/accept", data=form_fields(note="rights shown"))
        assert accepted.status_code == 303

        # The tracker refuses v1 and truncated v2 at once.
        for h in (meta.info_hash_v1, meta.info_hash_v2[:20]):
            assert not await _served(site, h)
        with pytest.raises(ProtocolError, match=TAKEN_DOWN):
            await _announce(site, meta.info_hash_v1)

        # The page, the download and the API answer 451.
        for address in (f"/t/{key}", f"/t/{meta.info_hash_v2.hex()}"):
            stub = await visitor.get(address)
            assert stub.status_code == 451
            assert f"removed following legal notice #{number}" in stub.text
            assert "magnet:" not in stub.text and ".torrent" not in stub.text
        download = await visitor.get(f"/t/{key}.torrent")
        assert download.status_code == 451 and f"#{number}" in download.text
        api = await visitor.get(f"/api/v1/torrents/{key}")
        assert api.status_code == 451 and f"#{number}" in api.json()["detail"]

        # A re-upload is refused; the uploader is told on their account page.
        up = accounts.act_as("up")
        again = await up.post("/upload", data=form_fields(category="linux"),
                              files={"file": ("up.torrent", data, TORRENT_TYPE)})
        assert again.status_code == 422 and f"legal notice #{number}" in again.text
        account = await up.get("/account")
        assert f"notice #{number}" in account.text and f"/takedowns/{number}/counter" in account.text

        # Counter-notice, then a restore: on the site and the tracker again.
        assert (await up.get(f"/takedowns/{number}/counter")).status_code == 200
        countered = await up.post(f"/takedowns/{number}/counter", data=form_fields(
            statement="I shot this film myself.", contact="up@example.org", good_faith="1",
            signature="Up Loader"))
        assert countered.status_code == 303
        assert "waiting for review" in (await up.get("/account")).text
        mod = accounts.act_as("mod")
        queue = await mod.get("/takedowns")
        assert "I shot this film myself." in queue.text
        counter_id = re.search(r"#counter-(\d+)", queue.text)
        assert counter_id is not None
        restored = await mod.post(f"/takedowns/counter/{counter_id.group(1)}/restore",
                                  data=form_fields(note="licence shown"))
        assert restored.status_code == 303
        assert await _served(site, meta.info_hash_v1)
        assert await _served(site, meta.info_hash_v2[:20])
        assert (await visitor.get(f"/t/{key}")).status_code == 200
        assert f"notice #{number}" not in (await accounts.act_as("up").get("/account")).text

        report = (await visitor.get("/transparency.json")).json()
        [month] = report["months"]
        assert (month["notices"], month["accepted"], month["counter_notices"], month["restorations"]) == (1, 1, 1, 1)


@async_test
async def test_open_mode_refuses_taken_down_hashes(tmp_path: Path, make: TorrentFactory) -> None:
    async with helpers.running_site(tmp_path) as site:
        async with transaction(site.ctx.db) as session:
            await ensure_default_categories(session)
        token = await site.api_token("uploader")
        client = site.client()
        data = make()
        created = await client.post("/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                                    data={"category": "linux"},
                                    files={"file": ("x.torrent", data, TORRENT_TYPE)})
        assert created.status_code == 201, created.text
        meta = parse_torrent(data)
        assert meta.info_hash_v1 is not None
        filed = await helpers.post_form(client, "/notice", **notice_fields(created.json()["info_hash"]))
        assert filed.status_code == 303, filed.text
        number = int(filed.headers["location"].split("/")[2])
        mod = await site.logged_in("mod", role=Role.MODERATOR)
        answer = await helpers.post_form(mod, f"/takedowns/{number}/accept", note="")
        assert answer.status_code == 303
        assert meta.info_hash_v1 in site.tracker.taken_down
        assert meta.info_hash_v2 is not None and meta.info_hash_v2[:20] in site.tracker.taken_down


@async_test
async def test_queue_and_decisions_are_for_moderators_and_admins(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        for name, role in (("user", Role.USER), ("trusted", Role.TRUSTED),
                           ("mod", Role.MODERATOR), ("admin", Role.ADMIN)):
            await accounts.add(name, role)
        _, key = await _uploaded(site, accounts, make)
        numbers = [await file_notice(accounts.act_as(None), key) for _ in range(2)]
        for name in (None, "user", "trusted"):
            client = accounts.act_as(name)
            expected = 303 if name is None else 403  # anonymous: to the login page
            assert (await client.get("/takedowns")).status_code == expected
            assert (await client.get(f"/takedowns/{numbers[0]}")).status_code == expected
            for decision in ("accept", "reject"):
                answer = await client.post(f"/takedowns/{numbers[0]}/{decision}", data=form_fields(note=""))
                assert answer.status_code in (303, 403) and answer.status_code == expected
                if name is None:
                    assert answer.headers["location"].startswith("/login")
            counter = await client.post("/takedowns/counter/1/restore", data=form_fields(note=""))
            assert counter.status_code == expected
        async with site.sessions() as session:
            assert len((await services.pending(session))[0]) == 2  # nothing was decided
        for name, number, decision in (("mod", numbers[0], "reject"), ("admin", numbers[1], "accept")):
            client = accounts.act_as(name)
            assert (await client.get("/takedowns")).status_code == 200
            answer = await client.post(f"/takedowns/{number}/{decision}", data=form_fields(note="ok"))
            assert answer.status_code == 303
            again = await client.post(f"/takedowns/{number}/{decision}", data=form_fields(note="ok"))
            assert again.status_code == 409
        # Without the CSRF field, no decision.
        accounts.act_as("mod")
        site.client.cookies.set("sdx_csrf", CSRF)
        forged = await site.client.post(f"/takedowns/{numbers[0]}/accept", data={"note": ""})
        assert forged.status_code == 403
        # Only the uploader may dispute.
        for name in ("user", "mod"):
            client = accounts.act_as(name)
            assert (await client.get(f"/takedowns/{numbers[1]}/counter")).status_code == 403
            posted = await client.post(f"/takedowns/{numbers[1]}/counter", data=form_fields(
                statement="mine", contact="x@example.org", good_faith="1", signature="X"))
            assert posted.status_code == 403
        assert (await accounts.act_as("up").get(f"/takedowns/{numbers[1]}/counter")).status_code == 200
        # Rejected notices cannot be disputed: nothing was taken down.
        assert (await accounts.act_as("up").get(f"/takedowns/{numbers[0]}/counter")).status_code == 403


@async_test
async def test_notice_form_reports_unknown_torrents_and_missing_statements(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        _, key = await _uploaded(site, accounts, make)
        client = accounts.act_as(None)
        unknown = "ab" * 20
        answer = await client.post("/notice", data=form_fields(**notice_fields(
            f"/t/{key}\n/t/{unknown}", good_faith="", accurate="")))
        assert answer.status_code == 422
        assert unknown in answer.text and "name no torrent on this site" in answer.text
        assert "good faith" in answer.text and "accurate" in answer.text
        assert EMAIL in answer.text  # what was typed is kept


@async_test
async def test_transparency_redacts_and_html_is_inert(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        await accounts.add("mod", Role.MODERATOR)
        _, key = await _uploaded(site, accounts, make)
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        number = await file_notice(accounts.act_as(None), key,
                                   work=f"{attack} by {CLAIMANT}, mail {EMAIL}",
                                   organisation=f"Studio {attack}")
        mod = accounts.act_as("mod")
        await mod.post(f"/takedowns/{number}/accept", data=form_fields(note=attack))
        pages = [await mod.get("/takedowns/" + str(number)), await mod.get("/takedowns"),
                 await accounts.act_as(None).get("/transparency"),
                 await site.client.get(f"/t/{key}")]
        for page in pages:
            assert "<script>alert" not in page.text and "<img src=x" not in page.text
        public = pages[2].text + (await site.client.get("/transparency.json")).text
        assert f"Notice #{number}" in pages[2].text and "Contested upload" in pages[2].text
        assert key in pages[2].text and "accepted" in pages[2].text
        assert "&lt;script&gt;" in pages[2].text
        assert EMAIL not in public and CLAIMANT not in public
        assert "an individual" not in pages[2].text  # an organisation was given
        # An individual's notice says so.
        _, other = await _uploaded(site, accounts, make)
        await file_notice(accounts.act_as(None), other)
        assert "an individual" in (await site.client.get("/transparency")).text


@async_test
async def test_notices_are_rate_limited(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        _, key = await _uploaded(site, accounts, make)
        client = accounts.act_as(None)
        for _ in range(5):
            await file_notice(client, key)
        refused = await client.post("/notice", data=form_fields(**notice_fields(key)))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


@async_test
async def test_repeat_infringers_cannot_upload(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, repeat_infringer_notices=1) as site:
        accounts = Accounts(site)
        await accounts.add("up")
        await accounts.add("mod", Role.MODERATOR)
        _, key = await _uploaded(site, accounts, make)
        number = await file_notice(accounts.act_as(None), key)
        await accounts.act_as("mod").post(f"/takedowns/{number}/accept", data=form_fields(note=""))
        up = accounts.act_as("up")
        refused = await up.post("/upload", data=form_fields(category="linux"),
                                files={"file": ("new.torrent", make(), TORRENT_TYPE)})
        assert refused.status_code == 422 and "can no longer upload" in refused.text
        api = await _api_upload(site, await _token(site, accounts.users["up"]), make())
        assert api.status_code == 422 and "can no longer upload" in api.json()["detail"]


async def _token(site: Site, user: User) -> dict[str, str]:
    async with transaction(site.sessions) as session:
        return {"Authorization": f"Bearer {await create_token(session, user, 'tests')}"}
