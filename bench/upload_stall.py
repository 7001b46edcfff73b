#!/usr/bin/env python3
"""Tracker latency while the site reads costly uploads.

Starts `swarmdex serve` (open tracker mode, loopback, OS-chosen ports) on a fresh data dir,
makes an uploader account and API token with the CLI, then keeps one UDP announce and one
HTTP announce (keep-alive) going every INTERVAL seconds for the whole run, recording each
answer's latency. Meanwhile it uploads, one after another, through POST /api/v1/torrents:

    idle        nothing (the baseline)
    deep        FILES files at depth DEPTH (~10 MB at the defaults): a real torrent
    junk        a small real torrent with JUNK_MB MB of tiny list items under an unknown key
    integer     INT_MB MB of one integer that never ends (always refused)

and prints, per phase, the upload's status and time, and p50 / p99 / max of the UDP and
HTTP announce latencies measured while it ran. Each probe waits for its answer before the
next is due, so a stall shows as one long latency (its max), not as many.

    .venv/bin/python bench/upload_stall.py
    FILES=20000 .venv/bin/python bench/upload_stall.py          # smaller listing
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/upload_stall.py   # another version

The target: every phase's p99 under 50 ms, for uploads accepted and refused.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from swarmdex.protocol import udp as udp_wire

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the server runner and the crafted files

from tests.functional.wire import (  # noqa: E402
    HttpClient,
    UdpClient,
    announce_request,
    announce_target,
)
from tests.support import crafted  # noqa: E402
from tests.support.serve import Serve, swarmdex  # noqa: E402

INTERVAL = float(os.environ.get("INTERVAL", "0.01"))
IDLE = float(os.environ.get("IDLE", "3"))
FILES = int(os.environ.get("FILES", "60000"))
DEPTH = int(os.environ.get("DEPTH", "32"))
JUNK_MB = float(os.environ.get("JUNK_MB", "9"))
INT_MB = float(os.environ.get("INT_MB", "10"))
UPLOAD_TIMEOUT = 300.0
HASH = bytes(range(20))


@dataclass
class Phase:
    name: str
    udp: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    status: str = "-"
    seconds: float = 0.0


def _figures(samples: list[float]) -> str:
    if not samples:
        return "no answers"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"n={len(ordered):5d} p50={statistics.median(ordered) * 1000:7.1f} ms "
            f"p99={p99 * 1000:7.1f} ms max={ordered[-1] * 1000:7.1f} ms")


async def _probe_udp(server: tuple[str, int], phases: list[Phase], stop: asyncio.Event) -> None:
    client = await UdpClient.open(server)
    port = 20000
    try:
        while not stop.is_set():
            started = time.perf_counter()
            if client.connection_id is None or port % 500 == 0:
                await client.connect()
            assert client.connection_id is not None
            request = announce_request(HASH, port=port, key=port)
            client.send(udp_wire.client_announce(client.connection_id, client.next_txid(), request))
            await client.receive(timeout=UPLOAD_TIMEOUT)  # a stall is measured, not fatal
            phases[-1].udp.append(time.perf_counter() - started)
            port = 20000 + (port + 1) % 20000
            await asyncio.sleep(max(0.0, INTERVAL - (time.perf_counter() - started)))
    finally:
        client.close()


async def _probe_http(server: tuple[str, int], phases: list[Phase], stop: asyncio.Event) -> None:
    client = await HttpClient.open(server)
    port = 40000
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await client.send(HttpClient.request("GET", announce_target(HASH, port=port)))
            response = await client.read_response(timeout=UPLOAD_TIMEOUT)
            assert response.status == 200, response
            phases[-1].http.append(time.perf_counter() - started)
            port = 40000 + (port + 1) % 20000
            await asyncio.sleep(max(0.0, INTERVAL - (time.perf_counter() - started)))
    finally:
        await client.close()


def _upload(base: str, token: str, data: bytes) -> str:
    answer = httpx.post(
        f"{base}/api/v1/torrents",
        headers={"Authorization": f"Bearer {token}"},
        data={"category": "datasets"},
        files={"file": ("crafted.torrent", data, "application/x-bittorrent")},
        timeout=UPLOAD_TIMEOUT,
    )
    detail = answer.json().get("detail", "") if answer.status_code >= 400 else "accepted"
    return f"{answer.status_code} {str(detail)[:90]}"


async def _run(server: Serve, token: str) -> list[Phase]:
    host, port = server.http
    base = f"http://{host}:{port}"
    uploads = {
        "deep": crafted.deep_listing(FILES, DEPTH),
        "junk": crafted.junk_key(JUNK_MB),
        "integer": crafted.unterminated_integer(INT_MB),
    }
    # The site's first requests build its routes and caches; a running site has long had
    # them, so they are made before anything is measured.
    for path in ("/", "/api/v1/categories", "/upload"):
        await asyncio.to_thread(httpx.get, base + path, timeout=UPLOAD_TIMEOUT)
    phases = [Phase("idle")]
    stop = asyncio.Event()
    probes = [asyncio.create_task(_probe_udp(server.udp, phases, stop)),
              asyncio.create_task(_probe_http(server.http, phases, stop))]
    try:
        await asyncio.sleep(IDLE)
        for name, data in uploads.items():
            phase = Phase(f"{name} ({len(data) / 1e6:.1f} MB)")
            phases.append(phase)
            started = time.perf_counter()
            phase.status = await asyncio.to_thread(_upload, base, token, data)
            phase.seconds = time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.gather(*probes)
    return phases


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="swarmdex-upload-stall-") as tmp:
        data_dir = Path(tmp) / "data"
        password = Path(tmp) / "password"
        password.write_text("a long enough password\n")
        for command in (("user", "create", "uploader", "--password-file", str(password)),
                        ("token", "create", "uploader")):
            done = swarmdex(*command, "--data-dir", str(data_dir), timeout=120)
            if done.returncode != 0:
                sys.exit(f"swarmdex {' '.join(command)} failed:\n{done.stderr}")
        token = done.stdout.strip().splitlines()[-1]
        with Serve(data_dir, "--port", "0", "--udp-port", "0", "--tracker-mode", "open") as server:
            phases = asyncio.run(_run(server, token))
            server.stop()
    print(f"swarmdex from {os.environ.get('PYTHONPATH') or 'the venv'}; probes every "
          f"{INTERVAL * 1000:g} ms; FILES={FILES} DEPTH={DEPTH} JUNK_MB={JUNK_MB} INT_MB={INT_MB}")
    for phase in phases:
        print(f"{phase.name:22s} upload {phase.seconds:6.2f} s  {phase.status}")
        print(f"    udp  {_figures(phase.udp)}")
        print(f"    http {_figures(phase.http)}")


if __name__ == "__main__":
    main()
