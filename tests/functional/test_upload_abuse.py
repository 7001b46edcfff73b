"""Costly uploads against a real `swarmdex serve`: refused or accepted, the tracker keeps answering.

Over real sockets: uploads through POST /api/v1/torrents, announces over UDP. The files come
from tests/support/crafted.py (bench/upload_stall.py measures the same ones).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from swarmdex.bittorrent.bencode import encode
from swarmdex.bittorrent.metainfo import parse_torrent

from ..support import crafted
from ..support.serve import Serve, swarmdex
from .wire import UdpClient

CPU_BUDGET = 2.0  # seconds: the junk files below need more
JUNK_MB = 9.0
LOOP_JUNK_MB = 4.0  # ~3 s of CPU to read in full
# Announces answered one after another while one upload is pending: twice what an event
# loop answers on this machine while it only receives the body and stores the result, and
# half of what it answers in the seconds a parse worker reads the file.
ANNOUNCES_DURING_PARSE = 1000
UPLOAD_TIMEOUT = 120.0


@dataclass
class Site:
    server: Serve
    tokens: dict[str, str]

    @property
    def base(self) -> str:
        host, port = self.server.http
        return f"http://{host}:{port}"

    def upload(self, data: bytes, account: str = "uploader") -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/v1/torrents",
            headers={"Authorization": f"Bearer {self.tokens[account]}"},
            data={"category": "datasets"},
            files={"file": ("crafted.torrent", data, "application/x-bittorrent")},
            timeout=UPLOAD_TIMEOUT,
        )


@contextmanager
def _running(tmp: pytest.TempPathFactory, accounts: tuple[str, ...], env: dict[str, str]) -> Iterator[Site]:
    """`swarmdex serve` on a new data dir with `env`, an API token for each of `accounts`."""
    data_dir = tmp.mktemp("upload") / "data"
    password = data_dir.parent / "password"
    password.write_text("a long enough password\n")
    tokens = {}
    for name in accounts:
        made = swarmdex("user", "create", name, "--password-file", str(password),
                        "--data-dir", str(data_dir), timeout=60)
        assert made.returncode == 0, made.stderr
        token = swarmdex("token", "create", name, "--data-dir", str(data_dir), timeout=60)
        assert token.returncode == 0, token.stderr
        tokens[name] = token.stdout.strip().splitlines()[-1]
    with Serve(data_dir, "--port", "0", "--udp-port", "0", "--tracker-mode", "open",
               env=env) as server:
        yield Site(server, tokens)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server whose parse budget the junk files overrun; uploads are not rate-limited here."""
    with _running(tmp_path_factory, ("uploader",), {
        "SWARMDEX_UPLOAD_PARSE_CPU_SECONDS": str(CPU_BUDGET),
        "SWARMDEX_UPLOADS_PER_ACCOUNT_PER_HOUR": "1000",
        "SWARMDEX_UPLOADS_PER_ADDRESS_PER_HOUR": "1000",
    }) as running:
        yield running


def small(name: str) -> bytes:
    return encode(crafted.small_torrent(name, seed=uuid.uuid4().bytes))


# --------------------------------------------------------------------------- crafted files


def test_a_deep_listing_within_the_limits_is_accepted_whole(site: Site) -> None:
    data = crafted.deep_listing(2000, 32, seed=b"accepted")
    answer = site.upload(data)
    assert answer.status_code == 201, answer.text
    info_hash = answer.json()["info_hash"]
    assert info_hash == parse_torrent(data).info_hash_v1.hex()  # type: ignore[union-attr]
    shown = httpx.get(f"{site.base}/api/v1/torrents/{info_hash}", timeout=10).json()
    assert shown["file_count"] == 2000
    assert shown["files"][0] == {"path": "/".join(f"d{i % 10}" for i in range(31)) + "/f0",
                                 "size": 1}
    assert len(shown["files"]) == 2000
    found = httpx.get(f"{site.base}/api/v1/search", params={"q": "f1999", "in": "files"},
                      timeout=10)
    assert found.status_code == 200


def test_an_endless_integer_is_refused_with_a_reason(site: Site) -> None:
    answer = site.upload(crafted.unterminated_integer(10))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "This is not a usable torrent file: not a valid torrent file: integer is outside "
        "the signed 64-bit range at byte 7."
    )


def test_a_file_over_the_cpu_budget_is_refused_and_the_next_upload_is_read(site: Site) -> None:
    answer = site.upload(crafted.junk_key(JUNK_MB, seed=b"budget"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        f"This torrent file takes too long to read (over {CPU_BUDGET:g} seconds of "
        "processing); it was refused."
    )
    site.server.wait_for_output(f"used up its {CPU_BUDGET:g} s parse budget")
    following = site.upload(small("after-the-junk"))
    assert following.status_code == 201, following.text


# --------------------------------------------------------------------------- the event loop


def test_udp_announces_are_answered_while_an_upload_is_read(site: Site) -> None:
    # A few megabytes of the costliest bencoding per byte: far over the budget, so the child
    # reads it for the whole budget, while the body itself arrives in a moment.
    data = crafted.junk_key(LOOP_JUNK_MB, seed=b"loop", item=b"le")
    answered, upload_status = asyncio.run(_announce_during_upload(site, data))
    assert answered == ANNOUNCES_DURING_PARSE, (
        f"the upload was answered ({upload_status}) after only {answered} announces"
    )
    assert upload_status == 422


async def _announce_during_upload(site: Site, data: bytes) -> tuple[int, int]:
    """Send the upload, then announce one after another until ANNOUNCES_DURING_PARSE are
    answered or the upload's answer arrives; return how many were answered, and its status."""
    sent = threading.Event()
    upload = asyncio.create_task(asyncio.to_thread(_post, site, data, sent))
    client = await UdpClient.open(site.server.udp)
    try:
        await client.connect()
        # Announces count once the whole request is on its way.
        await asyncio.to_thread(sent.wait, UPLOAD_TIMEOUT)
        answered = 0
        while not upload.done() and answered < ANNOUNCES_DURING_PARSE:
            try:
                await client.announce(b"upload-loop-test-000", port=6881)
            except TimeoutError:
                break  # not answered within the harness's bound for a broken server
            answered += 1
        return answered, await upload
    finally:
        client.close()


def _post(site: Site, data: bytes, sent: threading.Event) -> int:
    """POST the upload on a plain socket; set `sent` once all of it is written; return the
    answer's status."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\ndatasets\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="j.torrent"\r\n'
        "Content-Type: application/x-bittorrent\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    host, port = site.server.http
    head = (
        f"POST /api/v1/torrents HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        f"Authorization: Bearer {site.tokens['uploader']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=UPLOAD_TIMEOUT) as conn:
        conn.sendall(head + body)
        sent.set()
        status_line = conn.makefile("rb").readline()
    return int(status_line.split()[1])


# --------------------------------------------------------------------------- rate limits


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with _running(tmp_path_factory, ("first", "second"), {
        "SWARMDEX_UPLOADS_PER_ACCOUNT_PER_HOUR": "2",
        "SWARMDEX_UPLOADS_PER_ADDRESS_PER_HOUR": "3",
    }) as running:
        yield running


def test_uploads_past_the_hourly_allowances_are_answered_429(limited: Site) -> None:
    for n in range(2):
        assert limited.upload(small(f"first-{n}"), "first").status_code == 201
    refused = limited.upload(small("first-2"), "first")
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert refused.json()["detail"].startswith(
        "This site accepts 2 uploads an hour from this account; please wait "
    )
    # Another account from the same address: its first upload is the address's third (the
    # refused one did not count against the address), its second is one too many.
    assert limited.upload(small("second-0"), "second").status_code == 201
    by_address = limited.upload(small("second-1"), "second")
    assert by_address.status_code == 429, by_address.text
    assert by_address.json()["detail"].startswith(
        "This site accepts 3 uploads an hour from your connection; please wait "
    )
    limited.server.wait_for_output("hourly allowance of 3 uploads per address")
