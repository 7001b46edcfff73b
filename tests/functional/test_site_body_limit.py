"""The site's request body limit over real sockets: a body declared too large is refused
before it is sent, one streamed without a length is cut off at the limit (the server stops
reading), and the .torrent upload routes take their larger allowance."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import httpx
import pytest

from swarmdex.accounts.services import create_token, create_user
from swarmdex.db.engine import session_factory, transaction
from swarmdex.db.models import Role
from tests.unit.torrents.support import build_torrent

from .wire import REPLY_TIMEOUT, HttpClient, make_settings, run, running

LIMIT = 4096
STREAMED = 64 * 1024 * 1024  # what the client tries to send without a length
# What the kernel may take in on both sides before the server's refusal arrives (socket
# buffers on loopback grow to a few MiB); anything above means the server kept reading.
BUFFERED = 16 * 1024 * 1024


def _base(server: tuple[str, int]) -> str:
    return f"http://{server[0]}:{server[1]}"


async def _refused_head(server: tuple[str, int], path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Send only a head declaring a 400 MB body; return the answer and check the close."""
    client = await HttpClient.open(server)
    try:
        await client.send(HttpClient.request("POST", path, {"Content-Length": str(400 << 20), **headers}))
        answer = await client.read_response()
        assert await client.at_eof()
        return answer.status, answer.headers, answer.body
    finally:
        await client.close()


def test_body_declared_over_the_limit_is_refused_before_it_is_read(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with running(make_settings(http_body_max_bytes=LIMIT)) as node:
            status, headers, body = await _refused_head(
                node.http(), "/login", {"Content-Type": "multipart/form-data; boundary=x"})
            assert status == 413 and headers["content-type"].startswith("text/html")
            assert "too large" in body.decode() and f"{LIMIT:,} bytes" in body.decode()

            status, headers, body = await _refused_head(
                node.http(), "/api/v1/torrents", {"Content-Type": "multipart/form-data; boundary=x"})
            assert status == 413 and headers["content-type"] == "application/json"
            assert "too large" in json.loads(body)["detail"]

    run(scenario())
    said = [r.getMessage() for r in caplog.records if "over the limit" in r.getMessage()]
    assert said == [f"request bodies over the limit refused with 413: 1 so far "
                    f"(this one's limit {LIMIT} bytes)"], said  # once a minute at most


def test_streamed_body_is_cut_off_at_the_limit() -> None:
    async def scenario() -> None:
        async with running(make_settings(http_body_max_bytes=LIMIT)) as node:
            reader, writer = await asyncio.open_connection(*node.http())
            sent = 0

            async def stream() -> None:
                nonlocal sent
                writer.write(HttpClient.request("POST", "/login", {
                    "Transfer-Encoding": "chunked",
                    "Content-Type": "multipart/form-data; boundary=x"}))
                part = b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"
                chunk = b"%x\r\n%b\r\n" % (65536, part + b"a" * (65536 - len(part)))
                with contextlib.suppress(ConnectionError):
                    while sent < STREAMED:
                        writer.write(chunk)
                        await writer.drain()
                        sent += 65536

            streaming = asyncio.create_task(stream())
            try:
                answer = await HttpClient(reader, writer).read_response(timeout=REPLY_TIMEOUT * 4)
            finally:
                streaming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streaming
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            assert answer.status == 413, answer
            assert "too large" in answer.body.decode()
            assert sent < BUFFERED, f"the server read on: {sent:,} bytes taken"

            # The site still serves, and small forms pass.
            async with httpx.AsyncClient(base_url=_base(node.http()), trust_env=False,
                                         timeout=30) as web:
                assert (await web.get("/login")).status_code == 200
                small = await web.post("/login", data={"name": "x", "password": "y"})
                assert small.status_code != 413

    run(scenario())


def test_torrent_upload_routes_take_the_upload_allowance(tmp_path: Path) -> None:
    data = build_torrent(tmp_path / "payload", {"big/set.bin": 4 << 20}, seed="body-limit")
    assert len(data) > LIMIT  # larger than any other form may be

    async def scenario() -> None:
        async with running(make_settings(http_body_max_bytes=LIMIT)) as node:
            assert node.node.engine is not None
            async with transaction(session_factory(node.node.engine)) as session:
                token = await create_token(
                    session, await create_user(session, "uploader", "a long enough password", Role.USER), "t")
            async with httpx.AsyncClient(base_url=_base(node.http()), trust_env=False,
                                         timeout=30) as web:
                answer = await web.post(
                    "/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                    data={"category": "linux"},
                    files={"file": ("set.torrent", data, "application/x-bittorrent")})
                assert answer.status_code == 201, answer.text
                # The same bytes on a route without the allowance are refused.
                other = await web.post("/api/v1/search", content=data)
                assert other.status_code == 413, other.text

    run(scenario())
