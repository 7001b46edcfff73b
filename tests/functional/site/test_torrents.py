"""Torrent pages and API through the real ASGI app, on SQLite, with a listed-mode tracker."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import libtorrent as lt
import pytest

from swarmdex.audit import services as audit
from swarmdex.bittorrent.magnet import parse_magnet
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.protocol.announce import AnnounceRequest, AnnounceResponse, Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.sitecfg import services as site_config
from swarmdex.torrents.forms import FORM_ALLOWANCE
from swarmdex.web.security import CSRF_FIELD
from tests.unit.torrents.support import (
    SITE_TRACKERS,
    Site,
    TorrentFactory,
    async_test,
    count_rows,
    form_fields,
    running_site,
)

TORRENT_TYPE = "application/x-bittorrent"
_PORTS = itertools.count(6881)


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _announce(site: Site, info_hash: bytes, *, left: int = 0) -> AnnounceResponse:
    """A new peer (the store knows peers by address: each gets its own port)."""
    port = next(_PORTS)
    request = AnnounceRequest(info_hash, os.urandom(20), port, 0, 0, left, Event.STARTED, None)
    return await site.tracker.announce(
        request, bytes([127, 0, 0, 1]), max_peers=50, other_family=False
    )


async def _served(site: Site, info_hash: bytes) -> bool:
    try:
        await _announce(site, info_hash)
    except ProtocolError:
        return False
    return True


async def _post_upload(site: Site, data: bytes, **fields: str) -> httpx.Response:
    fields.setdefault("category", "linux")
    return await site.client.post(
        "/upload",
        data=form_fields(**fields),
        files={"file": ("upload.torrent", data, TORRENT_TYPE)},
    )


async def _api_upload(site: Site, headers: dict[str, str], data: bytes, **fields: str) -> httpx.Response:
    fields.setdefault("category", "linux")
    return await site.client.post(
        "/api/v1/torrents", headers=headers, data=fields,
        files={"file": ("upload.torrent", data, TORRENT_TYPE)},
    )


# --------------------------------------------------------------------------- upload page


@async_test
async def test_the_upload_page_needs_a_login(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        response = await site.client.get("/upload")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/upload"


@async_test
async def test_an_upload_is_listed_and_announceable_at_once(tmp_path: Path, make: TorrentFactory) -> None:
    data = make({"debian/netinst.iso": 60_000, "debian/SHA256SUMS": 300})
    meta = parse_torrent(data)
    assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
    async with running_site(tmp_path) as site:
        await site.login("alice")
        form = await site.client.get("/upload")
        assert form.status_code == 200 and 'name="file"' in form.text and "Data sets" in form.text
        assert not await _served(site, meta.info_hash_v1)

        response = await _post_upload(
            site, data, title="Debian 12 netinst", description="Official *image*", tags="debian, iso"
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/t/{meta.info_hash_v1.hex()}"
        # Both swarms of the hybrid are served, as one.
        assert await _served(site, meta.info_hash_v1)
        await _announce(site, meta.info_hash_v2[:20], left=100)

        page = await site.client.get(response.headers["location"])
    html = page.text
    assert page.status_code == 200
    assert "<h1>Debian 12 netinst</h1>" in html
    assert "<em>image</em>" in html
    assert '<a href="/c/linux">Linux</a>' in html and 'href="/tag/debian"' in html
    assert 'by <a href="/u/alice">alice</a>' in " ".join(html.split())  # links to the profile
    assert meta.info_hash_v1.hex() in html and meta.info_hash_v2.hex() in html
    assert f'href="/t/{meta.info_hash_v1.hex()}.torrent"' in html
    counts = re.findall(r'<b(?: class="\w+")?>(\d+)</b><span>(seeders|leechers|completed)', html)
    assert counts == [("1", "seeders"), ("1", "leechers"), ("0", "completed")]
    assert "netinst.iso" in html and "SHA256SUMS" in html
    assert "Delete this torrent" in html  # the uploader may
    assert 'id="comments"' in html


@async_test
async def test_an_anonymous_upload_does_not_name_its_uploader(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("shy-uploader")
        response = await _post_upload(site, make(), anonymous="1")
        site.logout()
        page = await site.client.get(response.headers["location"])
        api = await site.client.get("/api/v1" + response.headers["location"].replace("/t/", "/torrents/"))
    assert "shy-uploader" not in page.text and "anonymous" in page.text
    assert api.json()["uploader"] is None


@pytest.mark.parametrize(
    ("spoil", "fields", "status", "message"),
    [
        (lambda d: b"PK\x03\x04 a zip file", {}, 422, "This is not a usable torrent file: not a bencoded dictionary"),
        (lambda d: d[:-40], {}, 422, "This is not a usable torrent file: not a valid torrent file: truncated"),
        (lambda d: d, {"category": "warez"}, 422, "Unknown category &#39;warez&#39;; choose one of: linux"),
        (lambda d: d, {"tags": "ok, <b>"}, 422, "The tag &#39;&lt;b&gt;&#39; may use only letters"),
        (lambda d: d + b" " * 70_000, {}, 413, "may be at most 65,536 bytes"),
    ],
    ids=["not-a-torrent", "truncated", "category", "tag", "too-large"],
)
@async_test
async def test_a_refused_upload_says_why_and_keeps_what_was_typed(
    tmp_path: Path, make: TorrentFactory, spoil: Any, fields: dict[str, str], status: int, message: str
) -> None:
    async with running_site(tmp_path, upload_max_bytes=65_536) as site:
        await site.login("alice")
        response = await _post_upload(site, spoil(make()), title="My title", **fields)
        assert await count_rows(site.sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}
    assert response.status_code == status
    assert message in response.text
    assert 'class="errors"' in response.text
    if status != 413:  # a body over the limit is not read at all
        assert 'value="My title"' in response.text


@async_test
async def test_a_duplicate_links_to_the_torrent_on_the_site(tmp_path: Path, make: TorrentFactory) -> None:
    data = make()
    async with running_site(tmp_path) as site:
        await site.login("alice")
        first = await _post_upload(site, data, title="First")
        await site.login("bob")
        again = await _post_upload(site, data, title="Again")
    assert again.status_code == 409
    assert "This torrent is already on the site as “First”." in again.text
    assert f'<a href="{first.headers["location"]}">' in again.text


@async_test
async def test_an_upload_without_the_form_token_is_refused(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("alice")
        response = await site.client.post(
            "/upload", data={"category": "linux", CSRF_FIELD: "x" * 43},
            files={"file": ("a.torrent", make(), TORRENT_TYPE)},
        )
        assert await count_rows(site.sessions) == {"torrents": 0, "torrent_files": 0, "tags": 0}
    assert response.status_code == 403


@async_test
async def test_a_chunked_upload_is_cut_off_past_the_limit(tmp_path: Path) -> None:
    """No Content-Length to refuse early: the body is read only up to the limit."""
    limit = 16_384
    built = httpx.Request(
        "POST", "http://testserver/upload", data=form_fields(category="linux"),
        files={"file": ("big.torrent", b"d" + b"x" * (20 * (limit + FORM_ALLOWANCE)), TORRENT_TYPE)},
    )
    body = built.read()
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for start in range(0, len(body), 8192):
            sent += 8192
            yield body[start : start + 8192]

    async with running_site(tmp_path, upload_max_bytes=limit) as site:
        await site.login("alice")
        response = await site.client.post(
            "/upload", content=stream(), headers={"content-type": built.headers["content-type"]}
        )
    assert response.status_code == 413
    assert "at most 16,384 bytes" in response.text
    assert sent <= limit + FORM_ALLOWANCE + 2 * 8192


@async_test
async def test_the_admin_pages_upload_limit_applies_at_once(tmp_path: Path, make: TorrentFactory) -> None:
    data = make({f"many/{i}.bin": 10 for i in range(100)}, "v1")
    assert len(data) > 2048
    async with running_site(tmp_path) as site:
        async with transaction(site.sessions) as session:
            config = await site_config.update(
                session, site.ctx.settings, site_name="swarmdex", registration_open=True,
                upload_max_bytes=2048,
            )
        site_config.remember(site.ctx, config)
        await site.login("alice")
        form = await site.client.get("/upload")
        response = await _post_upload(site, data)
        api = await _api_upload(site, await site.token("robot"), data)
    assert "of at most 2.0 KiB" in form.text
    assert response.status_code == 413 and "at most 2,048 bytes" in response.text
    assert api.status_code == 413


# --------------------------------------------------------------------------- detail page


@async_test
async def test_every_hash_of_a_hybrid_leads_to_its_page(tmp_path: Path, make: TorrentFactory) -> None:
    meta = parse_torrent(make())
    assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
    canonical = f"/t/{meta.info_hash_v1.hex()}"
    async with running_site(tmp_path) as site:
        await site.login("alice")
        await _post_upload(site, meta.torrent_bytes)
        moved = [
            await site.client.get(f"/t/{name}")
            for name in (meta.info_hash_v2.hex(), meta.info_hash_v2[:20].hex(), meta.info_hash_v1.hex().upper())
        ]
        page = await site.client.get(canonical)
        downloads = [
            await site.client.get(f"/t/{name}.torrent")
            for name in (meta.info_hash_v1.hex(), meta.info_hash_v2.hex(), meta.info_hash_v2[:20].hex())
        ]
    assert [(r.status_code, r.headers["location"]) for r in moved] == [(301, canonical)] * 3
    assert page.status_code == 200 and f'<link rel="canonical" href="{canonical}">' in page.text
    assert [r.status_code for r in downloads] == [200] * 3
    assert len({r.content for r in downloads}) == 1


@async_test
async def test_a_v2_torrent_lives_at_its_truncated_hash(tmp_path: Path, make: TorrentFactory) -> None:
    meta = parse_torrent(make(version="v2"))
    assert meta.info_hash_v2 is not None
    async with running_site(tmp_path) as site:
        await site.login("alice")
        response = await _post_upload(site, meta.torrent_bytes)
        assert response.headers["location"] == f"/t/{meta.info_hash_v2[:20].hex()}"
        assert await _served(site, meta.info_hash_v2[:20])
        assert (await site.client.get(f"/t/{meta.info_hash_v2.hex()}")).status_code == 301


@pytest.mark.parametrize("path", ["/t/" + "0" * 40, "/t/" + "f" * 64, "/t/nothex", "/t/" + "0" * 40 + ".torrent"])
@async_test
async def test_unknown_hashes_are_a_friendly_404(tmp_path: Path, path: str) -> None:
    async with running_site(tmp_path) as site:
        response = await site.client.get(path)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "Not found" in response.text


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "'; alert(1); '",
]


@async_test
async def test_user_text_renders_inert(tmp_path: Path, make: TorrentFactory) -> None:
    """Title, description, file names and the torrent's name from a hostile uploader."""
    top = "<svg onload=alert(1)>"  # file names cannot hold "/", so no closing tags
    data = make({
        f"{top}/<script>x.txt": 20_000,
        f"{top}/\"><img src=x onerror=alert(1)>.bin": 10,
        f"{top}/'; alert(1); '": 10,
    })
    description = "\n\n".join(
        [*XSS, "[click](javascript:alert(1))", "<iframe src=//evil>", "![i](http://evil/x.png)"]
    )
    async with running_site(tmp_path) as site:
        await site.login("alice")
        response = await _post_upload(site, data, title=XSS[0] + XSS[1], description=description)
        assert response.status_code == 303, response.text
        refused = await _post_upload(site, make(), tags="<script>")
        page = await site.client.get(response.headers["location"])
    html = page.text.lower()
    assert refused.status_code == 422
    assert "<script" not in html and "<img" not in html and "<svg" not in html and "<iframe" not in html
    assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', html))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the title, shown as text
    assert "&lt;svg onload=alert(1)&gt;" in html  # the torrent's name


# --------------------------------------------------------------------------- download


@async_test
async def test_the_download_has_the_site_trackers_first(tmp_path: Path, make: TorrentFactory) -> None:
    original = (("http://other.example/announce",), (SITE_TRACKERS[1], "udp://third.example:1337"))
    data = make({"Ubuntu Desktop (amd64)/ubuntu.iso": 50_000}, trackers=original)
    meta = parse_torrent(data)
    async with running_site(tmp_path) as site:
        await site.login("alice")
        response = await _post_upload(site, data)
        download = await site.client.get(response.headers["location"] + ".torrent")
        page = await site.client.get(response.headers["location"])
    assert download.status_code == 200 and download.headers["content-type"] == TORRENT_TYPE
    assert download.headers["content-disposition"] == (
        'attachment; filename="Ubuntu Desktop _amd64.torrent"; '
        "filename*=UTF-8''Ubuntu%20Desktop%20%28amd64%29.torrent"
    )
    got = parse_torrent(download.content)
    tiers = ((*SITE_TRACKERS,), ("http://other.example/announce",), ("udp://third.example:1337",))
    assert got.announce_list == tiers
    assert got.info_bytes == meta.info_bytes
    hashes = lt.torrent_info(download.content).info_hashes()
    assert bytes(hashes.v1.to_bytes()) == meta.info_hash_v1
    assert bytes(hashes.v2.to_bytes()) == meta.info_hash_v2
    link = re.search(r'href="(magnet:[^"]+)"', page.text)
    assert link is not None
    magnet = parse_magnet(link.group(1).replace("&amp;", "&"))
    assert magnet.trackers == tuple(url for tier in tiers for url in tier)
    assert (magnet.v1, magnet.v2) == (meta.info_hash_v1, meta.info_hash_v2)


# --------------------------------------------------------------------------- delete


@async_test
async def test_deleting_takes_the_torrent_off_the_site_and_the_tracker(
    tmp_path: Path, make: TorrentFactory
) -> None:
    data = make()
    meta = parse_torrent(data)
    assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
    async with running_site(tmp_path) as site:
        await site.login("alice")
        path = (await _post_upload(site, data, title="Short-lived")).headers["location"]
        await _announce(site, meta.info_hash_v1, left=10)
        store = site.tracker.store

        await site.login("mallory")
        page = await site.client.get(path)
        assert "Delete this torrent" not in page.text
        forbidden = await site.client.post(path + "/delete", data=form_fields())
        assert forbidden.status_code == 403

        await site.login("mod", Role.MODERATOR)
        assert (await site.client.post(path + "/delete", data={CSRF_FIELD: "y" * 43})).status_code == 403
        deleted = await site.client.post(path + "/delete", data=form_fields())
        assert deleted.status_code == 200 and "Short-lived" in deleted.text

        assert (await site.client.get(path)).status_code == 404
        assert (await site.client.get(path + ".torrent")).status_code == 404
        assert (await site.client.get("/api/v1/torrents/" + path[3:])).status_code == 404
        assert not await _served(site, meta.info_hash_v1)
        assert not await _served(site, meta.info_hash_v2[:20])
        (counts,) = await store.scrape([meta.info_hash_v1], time.time())
        assert (counts.complete, counts.incomplete) == (0, 0)  # the swarm is gone

        # The audit log has it: who, what, and the title it had.
        async with site.ctx.db() as session:
            (entry,) = (await audit.entries(session, audit.Filters(action="torrent.delete"))).entries
        assert (entry.actor_name, entry.target_id) == ("mod", path[3:])
        assert entry.before is not None and entry.before["title"] == "Short-lived"

        again = await _post_upload(site, data, title="Back again")
        assert again.status_code == 303 and again.headers["location"] == path
        assert await _served(site, meta.info_hash_v1)
        assert "Back again" in (await site.client.get(path)).text


@async_test
async def test_the_uploader_may_delete_their_own(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("alice")
        path = (await _post_upload(site, make())).headers["location"]
        response = await site.client.post(path + "/delete", data=form_fields())
        gone = await site.client.get(path)
    assert response.status_code == 200 and gone.status_code == 404


# --------------------------------------------------------------------------- API


@async_test
async def test_api_upload_and_lookup(tmp_path: Path, make: TorrentFactory) -> None:
    data = make({"set/a.bin": 30_000, "set/b.bin": 1_000}, version="v2")
    meta = parse_torrent(data)
    assert meta.info_hash_v2 is not None
    short = meta.info_hash_v2[:20].hex()
    async with running_site(tmp_path) as site:
        headers = await site.token("robot")
        created = await _api_upload(
            site, headers, data, category="datasets", title="Set", description="d", tags="a,b", anonymous="false"
        )
        assert await _served(site, meta.info_hash_v2[:20])
        await _announce(site, meta.info_hash_v2[:20], left=5)
        shown = await site.client.get(f"/api/v1/torrents/{meta.info_hash_v2.hex()}")
    assert created.status_code == 201
    body = created.json()
    assert body == {
        "info_hash": short,
        "info_hash_v1": None,
        "info_hash_v2": meta.info_hash_v2.hex(),
        "url": f"http://testserver/t/{short}",
        "download_url": f"http://testserver/t/{short}.torrent",
        "magnet": body["magnet"],
    }
    assert created.headers["location"] == body["url"]
    assert parse_magnet(body["magnet"]).trackers == tuple(SITE_TRACKERS)

    assert shown.status_code == 200
    info = shown.json()
    assert {k: info[k] for k in ("name", "title", "category", "tags", "uploader", "size", "file_count")} == {
        "name": "set", "title": "Set", "category": "datasets", "tags": ["a", "b"],
        "uploader": "robot", "size": 31_000, "file_count": 2,
    }
    assert sorted((f["path"], f["size"]) for f in info["files"]) == [("a.bin", 30_000), ("b.bin", 1_000)]
    assert (info["seeders"], info["leechers"], info["completed"]) == (1, 1, 0)
    assert info["created_at"].startswith("20")


@pytest.mark.parametrize(
    ("headers", "data", "fields", "status", "detail"),
    [
        (None, b"", {}, 401, "This needs an API token"),
        ({"Authorization": "Bearer sdx_wrong"}, b"", {}, 401, "This API token is not valid"),
        ("token", b"not bencode", {}, 422, "This is not a usable torrent file"),
        ("token", "torrent", {"category": "nope"}, 422, "Unknown category 'nope'"),
        ("token", "torrent", {"title": "\x01"}, 422, "The title contains control characters."),
        ("token", b"d" * 70_000, {}, 413, "The upload is larger than the limit"),
    ],
    ids=["no-token", "bad-token", "not-a-torrent", "category", "title", "too-large"],
)
@async_test
async def test_api_upload_errors_are_json(
    tmp_path: Path, make: TorrentFactory, headers: Any, data: Any, fields: dict[str, str], status: int, detail: str
) -> None:
    async with running_site(tmp_path, upload_max_bytes=65_536) as site:
        if headers == "token":
            headers = await site.token("robot")
        response = await _api_upload(
            site, headers or {}, make() if data == "torrent" else data, **fields
        )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith(detail)


@async_test
async def test_api_duplicate_is_409_with_the_existing_torrent(tmp_path: Path, make: TorrentFactory) -> None:
    data = make()
    async with running_site(tmp_path) as site:
        headers = await site.token("robot")
        first = (await _api_upload(site, headers, data)).json()
        again = await _api_upload(site, headers, data)
        no_file = await site.client.post("/api/v1/torrents", headers=headers, data={"category": "linux"})
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This torrent is already on the site as “data”.",
        "info_hash": first["info_hash"],
        "url": first["url"],
    }
    assert no_file.status_code == 422 and no_file.json()["detail"] == "Choose a .torrent file to upload."


@async_test
async def test_api_lookups(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        categories = await site.client.get("/api/v1/categories")
        missing = await site.client.get("/api/v1/torrents/" + "0" * 40)
        garbage = await site.client.get("/api/v1/torrents/zzz")
        schema = (await site.client.get("/api/v1/openapi.json")).json()
    assert categories.json()[:2] == [{"slug": "linux", "name": "Linux"}, {"slug": "bsd", "name": "BSD"}]
    assert missing.status_code == 404 and missing.json() == {"detail": "No torrent on this site has that info hash."}
    assert garbage.status_code == 404
    upload = schema["paths"]["/api/v1/torrents"]["post"]
    assert set(upload["responses"]) >= {"201", "400", "401", "409", "413", "422"}
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "category"]
    show = schema["paths"]["/api/v1/torrents/{info_hash}"]["get"]
    assert show["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TorrentOut")
    fields = schema["components"]["schemas"]["TorrentOut"]["properties"]
    assert {"name", "title", "size", "files", "seeders", "leechers", "completed", "category", "tags", "created_at"} <= set(fields)
    assert "/upload" not in schema["paths"]  # pages are not part of the API
