"""The privacy test: a real `swarmdex serve`, a scripted visit from distinctive addresses
(through a trusted proxy's X-Forwarded-For, and from 127.0.0.77 itself), then every file in
the data dir and everything the process printed is searched for those addresses.

By default none appears in any form (text, packed 4/16 bytes, IPv4-mapped IPv6). With
`access_log` on they appear only truncated (198.51.100.0, 2001:db8:77::), and `swarmdex purge`
after the retention period removes even that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

from swarmdex.protocol import udp as udp_wire
from swarmdex.web.security import CSRF_COOKIE, CSRF_FIELD

from ..support.postgres_server import PostgresServer, postgres_server
from ..support.redis_server import redis_server
from ..support.serve import Serve, swarmdex
from ..unit.torrents.support import TorrentFactory
from .wire import UdpClient, announce_target, http_announce, run

PORTS = ("--port", "0", "--udp-port", "0")
PROXY = "127.0.0.1"  # trusted: its X-Forwarded-For is believed
SOURCE = "127.0.0.77"  # a client without a proxy (Linux answers on all of 127/8)
FORWARDED = ("198.51.100.77", "2001:db8:77::77")
VISITORS = (*FORWARDED, SOURCE)
PASSWORD = "correct horse battery staple"
TORRENT_TYPE = "application/x-bittorrent"


def forms(address: str) -> tuple[list[str], list[bytes]]:
    """Every way `address` could be written: text forms, and packed bytes."""
    ip = ipaddress.ip_address(address)
    texts = {str(ip), ip.exploded}
    packed = {ip.packed}
    if isinstance(ip, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address("::ffff:" + address)
        texts |= {f"::ffff:{address}", mapped.exploded, f"::ffff:{mapped.packed[12:].hex()}"}
        packed.add(mapped.packed)
    return sorted(texts), sorted(packed)


def everything(data: Path, output: list[str]) -> Iterator[tuple[str, bytes]]:
    yield "output", "\n".join(output).encode()
    for path in sorted(data.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(data)), path.read_bytes()


def found(data: Path, output: list[str], address: str, *, short_packed: bool = True) -> list[str]:
    """Where `address` is written under `data` or in `output`. `short_packed` False: leave
    out the 4-byte packed IPv4 form, which tens of megabytes of a database server's binary
    files hold by chance now and then (text forms and 16-byte forms are still looked for)."""
    texts, packed = forms(address)
    if not short_packed:
        packed = [p for p in packed if len(p) > 4]
    hits = []
    for name, content in everything(data, output):
        lowered = content.lower()
        hits += [f"{name}: {t}" for t in texts if t.lower().encode() in lowered]
        hits += [f"{name}: packed {p.hex()}" for p in packed if p in content]
    return hits


def client(server: Serve, *, source: str | None = None, forwarded: str | None = None) -> httpx.Client:
    host, port = server.http
    transport = httpx.HTTPTransport(local_address=source) if source else httpx.HTTPTransport()
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return httpx.Client(base_url=f"http://{host}:{port}", transport=transport, headers=headers,
                        follow_redirects=False, timeout=10.0)


def form(browser: httpx.Client, path: str, **fields: str) -> httpx.Response:
    if CSRF_COOKIE not in browser.cookies:
        browser.get("/login")
    return browser.post(path, data={CSRF_FIELD: browser.cookies[CSRF_COOKIE], **fields})


def visit(server: Serve, name: str, torrents: TorrentFactory, *, source: str | None,
          forwarded: str | None, tracker: Serve | None = None) -> None:
    """Register, log in, browse, search, make an API token, upload with it, comment,
    announce (UDP from `source` when given, HTTP through the proxy) to `server`, or to
    `tracker` when the site and the tracker are separate processes."""
    with client(server, source=source, forwarded=forwarded) as browser:
        assert browser.get("/").status_code == 200
        answer = form(browser, "/register", name=name, password=PASSWORD, password2=PASSWORD)
        assert answer.status_code == 303, answer.text
        form(browser, "/logout")
        assert form(browser, "/login", name=name, password=PASSWORD).status_code == 303
        assert browser.get("/browse").status_code == 200
        assert browser.get("/search", params={"q": "linux"}).status_code == 200
        page = form(browser, "/account/tokens", name="script").text
        token = re.search(r'class="token-value" type="text" value="([^"]+)"', page)
        assert token is not None, page
        created = browser.post(
            "/api/v1/torrents", headers={"authorization": f"Bearer {token.group(1)}"},
            files={"file": ("x.torrent", torrents(), TORRENT_TYPE)}, data={"category": "other"})
        assert created.status_code == 201, created.text
        torrent = created.json()
        assert form(browser, f"/t/{torrent['info_hash']}/comments", body="thanks").status_code == 303
        assert browser.get(f"/t/{torrent['info_hash']}.torrent").status_code == 200
        announced = bytes.fromhex(torrent["info_hash_v1"])
        if tracker is None:
            # An announce on the site's own connection (HTTP/1.1 keep-alive, like a proxy).
            target = announce_target(announced, port=6881, left=0)
            assert b"failure" not in browser.get(target).content
    node = tracker or server

    async def trackers() -> None:
        headers = {"x-forwarded-for": forwarded} if forwarded else None
        # A node learns of the upload through the change feed: wait for it to be served.
        answer = await until_served(node, announced, headers)
        assert b"failure reason" not in answer, answer
        if source is not None:
            udp = await UdpClient.open(node.udp, local=(source, 0))
            try:
                reply = await udp.announce(announced, port=6883, left=0)
                assert isinstance(reply, udp_wire.AnnounceReply), reply
                assert isinstance(await udp.scrape([announced]), udp_wire.ScrapeReply)
            finally:
                udp.close()

    run(trackers())


async def until_served(node: Serve, info_hash: bytes, headers: dict[str, str] | None,
                       within: float = 10.0) -> dict[bytes, object]:
    deadline = time.monotonic() + within
    while True:
        answer = await http_announce(node.http, info_hash, port=6882, left=0, headers=headers)
        if b"failure reason" not in answer or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.05)


def session(data: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> list[str]:
    torrents = TorrentFactory(tmp_path / f"torrents-{data.name}")
    with Serve(data, *PORTS, "--tracker-mode", "listed", "--trusted-proxy", PROXY,
               "--log-level", "debug", *extra, env=env) as server:
        visit(server, "alice", torrents, source=None, forwarded=FORWARDED[0])
        visit(server, "bob", torrents, source=None, forwarded=FORWARDED[1])
        visit(server, "carol", torrents, source=SOURCE, forwarded=None)
        assert server.stop() == 0, server.describe()
        return server.lines


def test_no_address_is_kept_by_default(tmp_path: Path) -> None:
    data = tmp_path / "data"
    output = session(data, tmp_path)
    assert not (data / "logs").exists()
    # The server ran its daily purge at start, and said what it removed.
    assert any("purge: deleted 0 access log file(s)" in line for line in output), output
    for address in VISITORS:
        assert found(data, output, address) == [], address
    # The scan itself works: the visitors' names are there, in the database.
    assert any(b"carol" in content for _, content in everything(data, output))


def test_access_log_keeps_networks_only_until_the_purge(tmp_path: Path) -> None:
    data = tmp_path / "data"
    output = session(data, tmp_path, env={"SWARMDEX_ACCESS_LOG": "true",
                                          "SWARMDEX_ACCESS_LOG_RETENTION_DAYS": "3"})
    logs = sorted((data / "logs").glob("access-*.log"))
    assert logs, sorted(data.rglob("*"))
    for address in VISITORS:
        assert found(data, output, address) == [], address
    written = "".join(path.read_text() for path in logs)
    assert " 198.51.100.0 POST /register 303" in written
    assert " 2001:db8:77:: GET /browse 200" in written
    assert " 127.0.0.0 GET /search 200" in written
    assert "linux" not in written  # no query strings

    today = dt.datetime.now(dt.UTC).date()
    kept = swarmdex("purge", "--data-dir", str(data), "--now", (today + dt.timedelta(days=3)).isoformat(),
                    env={"SWARMDEX_ACCESS_LOG_RETENTION_DAYS": "3"})
    assert kept.returncode == 0, kept.stderr
    assert "deleted 0 access log file(s)" in kept.stdout and all(p.exists() for p in logs)
    purged = swarmdex("purge", "--data-dir", str(data), "--now", (today + dt.timedelta(days=4)).isoformat(),
                      env={"SWARMDEX_ACCESS_LOG_RETENTION_DAYS": "3"})
    assert purged.returncode == 0, purged.stderr
    assert f"deleted access log {logs[-1].name}" in purged.stdout, purged.stdout
    assert not any(p.exists() for p in logs)
    for network in ("198.51.100.0", "2001:db8:77::", "127.0.0.0 "):
        assert not any(network.encode() in content for name, content in everything(data, [])
                       if name.startswith("logs")), network


def test_no_address_is_kept_by_a_split_deployment(tmp_path: Path) -> None:
    """A web process and a tracker node on PostgreSQL and Redis: nothing in the data dir,
    the database cluster's files (tables and write-ahead log), Redis's directory or what
    either process printed holds a visitor's address."""
    data = tmp_path / "data"
    torrents = TorrentFactory(tmp_path / "torrents")
    with postgres_server() as pg, redis_server() as redis:
        asyncio.run(_create_database(pg, "privacy"))
        env = {"SWARMDEX_DATABASE_URL": pg.url("privacy")}
        store = ("--peer-store-url", redis.url)
        shared = (*PORTS, "--tracker-mode", "listed", "--trusted-proxy", PROXY,
                  "--log-level", "debug", *store)
        with Serve(data, *shared, command=("web",), env=env) as web, \
                Serve(data, *shared, command=("tracker",), env=env) as node:
            visit(web, "alice", torrents, source=None, forwarded=FORWARDED[0], tracker=node)
            visit(web, "bob", torrents, source=None, forwarded=FORWARDED[1], tracker=node)
            visit(web, "carol", torrents, source=SOURCE, forwarded=None, tracker=node)
            assert web.stop() == 0, web.describe()
            assert node.stop() == 0, node.describe()
            output = web.lines + node.lines
        pg.stop()  # everything written out: tables, indexes, write-ahead log
        places = {"data dir": data, "PostgreSQL": pg.directory, "Redis": redis.directory}
        for address in VISITORS:
            assert found(data, output, address) == [], address
            for place in ("PostgreSQL", "Redis"):
                assert found(places[place], [], address, short_packed=False) == [], (place, address)
        # The scan itself works: the visitors' names are in the database's files.
        assert any(b"carol" in content for _, content in everything(pg.directory, []))


async def _create_database(server: PostgresServer, name: str) -> None:
    admin = await asyncpg.connect(server.url(driver="postgresql"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def test_the_scan_finds_every_form(tmp_path: Path) -> None:
    """The scan above would see an address written in any of its forms."""
    for address in VISITORS:
        texts, packed = forms(address)
        for i, written in enumerate([t.encode() for t in texts] + packed):
            (tmp_path / f"{i}.bin").write_bytes(b"before" + written + b"after")
            assert found(tmp_path, [], address), (address, written)
            (tmp_path / f"{i}.bin").unlink()
    assert found(tmp_path, ["peer ::FFFF:198.51.100.77 said hi"], "198.51.100.77")
