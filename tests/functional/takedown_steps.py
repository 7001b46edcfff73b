"""Steps of notice-and-takedown as people take them on a running site, for process tests:
log in, file a notice through the form, decide it as staff; and whether a tracker serves or
refuses an info hash over UDP and HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from swarmdex.protocol import udp as udp_wire
from swarmdex.tracker.logic import TAKEN_DOWN
from tests.support.serve import Serve
from tests.support.site import Account, RunningSite

from .wire import http_announce, udp_clients

CSRF_COOKIE = "sdx_csrf"
CSRF_FIELD = "csrf_token"
TORRENT_TYPE = "application/x-bittorrent"


def browser(site: RunningSite) -> httpx.Client:
    return httpx.Client(base_url=site.base_url, timeout=10, trust_env=False)


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    return client.post(path, data={CSRF_FIELD: client.cookies[CSRF_COOKIE], **fields})


@contextmanager
def log_in(site: RunningSite, account: Account) -> Iterator[httpx.Client]:
    with browser(site) as client:
        answer = post(client, "/login", name=account.name, password=account.password, next="/")
        assert answer.status_code == 303, answer.text
        yield client


def upload(site: RunningSite, token: str, data: bytes) -> httpx.Response:
    with browser(site) as client:
        return client.post("/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                           data={"category": "linux"},
                           files={"file": ("e2e.torrent", data, TORRENT_TYPE)})


async def refused(server: Serve, h: bytes) -> bool:
    """True when both the UDP and the HTTP tracker refuse `h` as taken down."""
    answer = await http_announce(server.http, h, port=7001)
    if answer.get(b"failure reason") != TAKEN_DOWN.encode():
        return False
    async with udp_clients(server.udp) as (client,):
        reply = await client.announce(h, port=7001)
    return isinstance(reply, udp_wire.ErrorReply) and reply.message == TAKEN_DOWN


async def served(server: Serve, h: bytes) -> bool:
    answer = await http_announce(server.http, h, port=7002)
    if b"failure reason" in answer:
        return False
    async with udp_clients(server.udp) as (client,):
        reply = await client.announce(h, port=7002)
    return isinstance(reply, udp_wire.AnnounceReply)


def file_notice(site: RunningSite, key: str, claimant: str = "Ada Claimant") -> int:
    """A notice about torrent `key` through the public form; its number."""
    with browser(site) as visitor:
        filed = post(visitor, "/notice", claimant_name=claimant, organisation="Studio",
                     email="ada@example.org", work="The film", torrents=site.url(f"/t/{key}"),
                     good_faith="1", accurate="1", signature=claimant)
        assert filed.status_code == 303, filed.text
        match = re.fullmatch(r"/notice/(\d+)/received/[\w-]{22}", filed.headers["location"])
        assert match is not None, filed.headers["location"]
        return int(match.group(1))


def accept_notice(site: RunningSite, staff: Account, number: int) -> None:
    with log_in(site, staff) as session:
        assert post(session, f"/takedowns/{number}/accept", note="accepted").status_code == 303
