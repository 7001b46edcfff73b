"""A server killed (SIGKILL) in the middle of an upload leaves no half-written torrent.

The kill lands at a different point each round: while the body is still arriving, right
after it arrived, and at growing delays into the database work for a torrent with thousands
of files. After each kill the server is started again on the same data dir, and the torrent
is either wholly there (every file row, in search, downloadable, announceable) or not there
at all (unknown to the API and the tracker, and a fresh upload of it succeeds).
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest

from swarmdex.bittorrent.metainfo import parse_torrent

from ..support.serve import Serve, swarmdex
from ..unit.torrents.support import build_torrent

FILES = 3000
# Seconds between the last byte of the request and the kill; None: kill with half the body sent.
KILL_POINTS = (None, 0.0, 0.005, 0.02, 0.05, 0.15)


def _multipart(token: str, host: str, port: int, metainfo: bytes) -> bytes:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (("category", "linux"), ("title", "killed upload")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="k.torrent"\r\nContent-Type: application/x-bittorrent\r\n\r\n'.encode()
                 + metainfo + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    head = (f"POST /api/v1/torrents HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def _kill_during_upload(server: Serve, request: bytes, delay: float | None) -> None:
    host, port = server.http
    with socket.create_connection((host, port), timeout=10) as conn:
        if delay is None:
            conn.sendall(request[: len(request) // 2])
            # The server has read the headers and part of the body once a request on a
            # second connection is answered after it (it serves connections in turn).
            httpx.get(f"http://{host}:{port}/stats.json", timeout=10)
        else:
            conn.sendall(request)
            if delay:
                time.sleep(delay)  # where the kill lands, not a wait for readiness
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
    server.kill()


def _token(data_dir: Path) -> str:
    password = data_dir.parent / "password"
    password.write_text("a long enough password\n")
    made = swarmdex("user", "create", "uploader", "--password-file", str(password),
                    "--data-dir", str(data_dir), timeout=60)
    assert made.returncode == 0, made.stderr
    token = swarmdex("token", "create", "uploader", "--data-dir", str(data_dir), timeout=60)
    assert token.returncode == 0, token.stderr
    return token.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("delay", KILL_POINTS, ids=lambda d: "half-body" if d is None else f"{d}s")
def test_kill_mid_upload_leaves_all_or_nothing(tmp_path: Path, delay: float | None) -> None:
    data_dir = tmp_path / "data"
    layout = {f"many/d{i % 40}/f{i}.bin": 1 + i % 97 for i in range(FILES)}
    metainfo = build_torrent(tmp_path / "payload", layout, "v1", seed=str(delay))
    meta = parse_torrent(metainfo)
    assert meta.info_hash_v1 is not None
    v1 = meta.info_hash_v1.hex()
    token = _token(data_dir)

    with Serve(data_dir, "--port", "0", "--udp-port", "0") as server:
        host, port = server.http
        _kill_during_upload(server, _multipart(token, host, port, metainfo), delay)

    db = sqlite3.connect(data_dir / "swarmdex.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()

    with Serve(data_dir, "--port", "0", "--udp-port", "0") as server:
        host, port = server.http
        base = f"http://{host}:{port}"
        shown = httpx.get(f"{base}/api/v1/torrents/{v1}", timeout=10)
        found = httpx.get(f"{base}/api/v1/search", params={"q": "killed upload"}, timeout=10)
        assert found.status_code == 200
        hits = [r for r in found.json()["results"] if r["info_hash"] == v1]
        if shown.status_code == 200:  # the upload was committed: all of it
            assert len(shown.json()["files"]) == FILES
            assert len(hits) == 1
            download = httpx.get(f"{base}{shown.json()['download_url'].split(base, 1)[-1]}",
                                 timeout=10)
            assert download.status_code == 200
            assert parse_torrent(download.content).info_hash_v1 == meta.info_hash_v1
        else:  # not committed: nothing of it
            assert shown.status_code == 404, shown.text
            assert hits == []
            again = httpx.post(
                f"{base}/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                data={"category": "linux", "title": "killed upload"},
                files={"file": ("k.torrent", metainfo, "application/x-bittorrent")}, timeout=30,
            )
            assert again.status_code == 201, again.text
            assert len(httpx.get(f"{base}/api/v1/torrents/{v1}", timeout=10).json()["files"]) == FILES
