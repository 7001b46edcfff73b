"""Soak: swarmdex under steady tracker and site load for a long time; memory must stay flat
and latency steady.

    .venv/bin/python bench/soak.py                                   # 30 min at 20,000 UDP announces/s
    nice -n 19 .venv/bin/python bench/soak.py --duration 180 --rate 5000 --warmup 60 --window 15

Starts `swarmdex serve` on 127.0.0.1 (port 0, listed mode serving the load generator's pool
of --hashes info hashes) and drives, until --duration seconds have passed:

* UDP announces at --rate a second with ../shared/bench's `udpload` (built with make if
  missing): one bounded run of at most one second and --rate announces per second, every
  (hash, peer) of --hashes x --pph peers re-announcing, as real clients do;
* HTTP announces at --http-rate a second over --connections keep-alive connections, from
  a fixed set of peers (so they too re-announce instead of piling up until their TTL);
* site traffic at --site-rate requests a second from --connections visitors: home, browse,
  search, a detail page, RSS and the JSON API in turn, and an upload through the API every
  --upload-every seconds.

Every --window seconds it prints the server's RSS (VmRSS), its CPU use (% of one core) and,
per kind of traffic, the rate achieved and the p99 latency (UDP: udpload's own p99 of each
second, the median over the window). The verdict at the end compares the windows after --warmup: RSS growth from the
first of them to the last under 5 %, and every window's p99 within 2x the median window's.
Errors after the warm-up (UDP errors and timeouts, HTTP failures, site 5xx) fail it too.
Exit status 0: pass.

All the load comes from 127.0.0.1, so the tracker's per-address limits are raised for the
run (see `limits`). Only 127.0.0.1 is ever loaded; every loop is bounded by the deadline and
every request by a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_BENCH", ROOT.parent / "shared" / "bench")).resolve()
sys.path.insert(0, str(ROOT))

from kill_campaign import make_torrent  # noqa: E402  (this script's own folder)
from tests.support.serve import Serve  # noqa: E402
from tests.support.site import RunningSite  # noqa: E402

from swarmdex.protocol.announce import AnnounceRequest, Event  # noqa: E402
from swarmdex.protocol.http import announce_query  # noqa: E402
from swarmdex.settings import Settings  # noqa: E402

RSS_GROWTH_LIMIT = 0.05
P99_SPREAD_LIMIT = 2.0
HTTP_PEERS = 8  # per hash, on the first 1,000 hashes of the pool
TIMEOUT = 10.0


@dataclass
class Traffic:
    """One kind of load: what it achieved since the last sample."""

    name: str
    count: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds; UDP: per-second p99s
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, count: int, latency: float | None, errors: int = 0) -> None:
        with self.lock:
            self.count += count
            self.errors += errors
            if latency is not None:
                self.latencies.append(latency)

    def take(self) -> tuple[int, int, list[float]]:
        with self.lock:
            taken = (self.count, self.errors, self.latencies)
            self.count, self.errors, self.latencies = 0, 0, []
        return taken


@dataclass
class Window:
    at: float
    rss_mib: float
    cpu_pct: float  # of one core, by the server, over the window
    rates: dict[str, float]
    p99_ms: dict[str, float | None]
    errors: dict[str, int]


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def paced(rate: float, deadline: float, stop: threading.Event, step: Callable[[], None]) -> None:
    """Call `step` `rate` times a second until the deadline (fewer if a step is slower)."""
    gap, due = 1.0 / rate, time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        step()
        due += gap
        pause = due - time.monotonic()
        if pause > 0:
            stop.wait(pause)
        elif pause < -1.0:
            due = time.monotonic()  # fell behind by a second: do not try to catch up in a burst


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.stop = threading.Event()
        self.udp = Traffic("udp")
        self.http = Traffic("http")
        self.site = Traffic("site")
        self.hashes: list[bytes] = []
        self.uploaded: list[str] = []
        self.cpu_seen = 0.0

    def limits(self) -> dict[str, str]:
        """All the load comes from 127.0.0.1, where the per-address limits meant for one
        household would refuse most of it: they are raised to let one address be everyone.
        The generator's peers re-announce every few seconds, not every min_interval, and
        should still cost what an announce with peers costs. Only the settings this version
        of swarmdex has are given (an unknown one is an error)."""
        wanted = {
            "max_peers_per_address": self.args.pph + HTTP_PEERS,
            "new_swarms_burst": self.args.hashes + 1000,
            "new_peer_lists_per_min_interval": 0,
            "peer_lists_per_min_interval": 0,
            "min_interval_enforced": "false",
        }
        return {f"SWARMDEX_{name.upper()}": str(value) for name, value in wanted.items()
                if name in Settings.model_fields}

    def udpload(self) -> Path:
        subprocess.run(["make", "-s", "-C", str(SHARED), "udpload"], check=True)
        return SHARED / "udpload"

    def run(self) -> int:
        args = self.args
        udpload = self.udpload()
        pool = self.workdir / "pool.txt"
        subprocess.run([str(udpload), "--dump-hashes", str(pool), "--hashes", str(args.hashes)],
                       check=True)
        self.hashes = [bytes.fromhex(line) for line in pool.read_text().split()]
        data_dir = self.workdir / "data"
        flags = ["--port", "0", "--udp-port", "0", "--tracker-mode", "listed",
                 "--allowlist", str(pool), *args.serve_arg]
        with Serve(data_dir, *flags, env=self.limits()) as server:
            site = RunningSite(server, data_dir)
            token = site.create_token(site.create_user("soak", role="admin"))
            pid = server.process.pid
            self.cpu_seen = cpu_seconds(pid)
            start = time.monotonic()
            deadline = start + args.duration
            host, port = server.udp
            loads = [
                threading.Thread(target=self.drive_udp, args=(udpload, host, port, deadline)),
                *(threading.Thread(target=self.drive_http, args=(site, deadline, i))
                  for i in range(args.connections)),
                *(threading.Thread(target=self.drive_site, args=(site, token, deadline, i))
                  for i in range(args.connections)),
            ]
            for thread in loads:
                thread.start()
            windows: list[Window] = []
            print(f"soak: {args.duration} s, UDP {args.rate}/s, HTTP {args.http_rate}/s, site "
                  f"{args.site_rate}/s, pid {pid}; a row every {args.window} s", flush=True)
            print(f"{'t (s)':>6} {'RSS MiB':>8} {'CPU':>5} {'udp/s':>7} {'udp p99':>8} {'http/s':>7} "
                  f"{'http p99':>9} {'site/s':>7} {'site p99':>9} errors (udp/http/site)")
            try:
                while time.monotonic() < deadline and server.process.poll() is None:
                    self.stop.wait(min(args.window, max(0.0, deadline - time.monotonic())))
                    windows.append(self.sample(pid, time.monotonic() - start, args.window))
                    print(self.row(windows[-1]), flush=True)
            finally:
                self.stop.set()
                for thread in loads:
                    thread.join(timeout=TIMEOUT + 65)
            alive = server.process.poll() is None
        return self.verdict(windows, alive)

    # -- the load --------------------------------------------------------------------------

    def drive_udp(self, udpload: Path, host: str, port: int, deadline: float) -> None:
        common = [str(udpload), "--host", host, "--port", str(port), "--hashes",
                  str(self.args.hashes), "--peers-per-hash", str(self.args.pph), "--threads", "1",
                  "--sockets", "8", "--window", "16", "--numwant", "50"]
        # Every (hash, peer) once, at the load's rate: the swarms the steady state works on.
        fill_next = 0
        total = self.args.hashes * self.args.pph
        while fill_next < total and not self.stop.is_set() and time.monotonic() < deadline:
            out = self.udp_second([*common, "--fill", "--fill-start", str(fill_next)])
            fill_next = out.get("fill_next", total) if out else total
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.udp_second(common)

    def udp_second(self, argv: list[str]) -> dict[str, int] | None:
        """One udpload run of at most a second and --rate announces; then wait out the second."""
        began = time.monotonic()
        done = subprocess.run([*argv, "--seconds", "1", "--max-requests", str(self.args.rate)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            self.udp.add(0, None, errors=1)
            return None
        out: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
        latency = out["p99_us"] / 1e6 if out["p99_us"] >= 0 else None
        self.udp.add(out["responses"], latency, errors=out["errors"] + out["timeouts"])
        self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))
        return out

    def drive_http(self, site: RunningSite, deadline: float, index: int) -> None:
        """One of --connections keep-alive clients, each with its share of --http-rate."""
        if self.args.http_rate <= 0:
            return
        rng = random.Random(index)
        peers = [(h, 20000 + k) for h in self.hashes[:1000] for k in range(HTTP_PEERS)]
        with httpx.Client(base_url=site.base_url, timeout=TIMEOUT, trust_env=False) as client:
            def announce() -> None:
                info_hash, peer_port = rng.choice(peers)
                query = announce_query(AnnounceRequest(
                    info_hash, b"-SOAK01-" + peer_port.to_bytes(12, "big"), peer_port, 0, 0,
                    0 if peer_port % 3 == 0 else 1000, Event.NONE, 50))
                began = time.monotonic()
                try:
                    answer = client.get(f"/announce?{query}")
                    failed = answer.status_code != 200 or b"failure reason" in answer.content
                except httpx.HTTPError:
                    failed = True
                self.http.add(1, time.monotonic() - began, errors=int(failed))

            paced(self.args.http_rate / self.args.connections, deadline, self.stop, announce)

    def drive_site(self, site: RunningSite, token: str, deadline: float, index: int) -> None:
        """One of --connections site visitors; the first one also uploads."""
        if self.args.site_rate <= 0:
            return
        pages = ["/", "/browse", "/search?q=soak", "DETAIL", "/rss", "/api/v1/torrents"]
        turn = index
        last_upload = -float("inf") if index == 0 else float("inf")
        with httpx.Client(base_url=site.base_url, timeout=TIMEOUT, trust_env=False) as client:
            def visit() -> None:
                nonlocal turn, last_upload
                began = time.monotonic()
                try:
                    if began - last_upload >= self.args.upload_every:
                        last_upload = began
                        data, v1 = make_torrent(random.randint(1, 50))
                        answer = client.post(
                            "/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                            data={"category": "linux", "title": f"soak {secrets.token_hex(4)}"},
                            files={"file": ("s.torrent", data, "application/x-bittorrent")})
                        if answer.status_code == 201:
                            self.uploaded.append(v1)
                    else:
                        path = pages[turn % len(pages)]
                        turn += 1
                        if path == "DETAIL":
                            path = f"/t/{random.choice(self.uploaded)}" if self.uploaded else "/"
                        answer = client.get(path)
                    failed = answer.status_code >= 500
                except httpx.HTTPError:
                    failed = True
                self.site.add(1, time.monotonic() - began, errors=int(failed))

            paced(self.args.site_rate / self.args.connections, deadline, self.stop, visit)

    # -- the figures -------------------------------------------------------------------------

    def sample(self, pid: int, at: float, span: float) -> Window:
        rates: dict[str, float] = {}
        p99s: dict[str, float | None] = {}
        errors: dict[str, int] = {}
        for traffic in (self.udp, self.http, self.site):
            count, failed, latencies = traffic.take()
            rates[traffic.name] = count / span
            errors[traffic.name] = failed
            if traffic is self.udp:  # udpload's p99 of each second: their median
                p99s[traffic.name] = statistics.median(latencies) * 1e3 if latencies else None
            else:
                value = p99(latencies)
                p99s[traffic.name] = None if value is None else value * 1e3
        cpu = cpu_seconds(pid)
        used, self.cpu_seen = cpu - self.cpu_seen, cpu
        return Window(at, rss_mib(pid), 100 * used / span, rates, p99s, errors)

    @staticmethod
    def row(w: Window) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}ms"
        return (f"{w.at:6.0f} {w.rss_mib:8.1f} {w.cpu_pct:4.0f}% {w.rates['udp']:7.0f} {ms(w.p99_ms['udp']):>8} "
                f"{w.rates['http']:7.0f} {ms(w.p99_ms['http']):>9} {w.rates['site']:7.1f} "
                f"{ms(w.p99_ms['site']):>9} {w.errors['udp']}/{w.errors['http']}/"
                f"{w.errors['site']}")

    def verdict(self, windows: list[Window], alive: bool) -> int:
        args = self.args
        steady = [w for w in windows if w.at > args.warmup]
        problems: list[str] = []
        if not alive:
            problems.append("the server died")
        if len(steady) < 2:
            problems.append(f"only {len(steady)} window(s) after the warm-up: run longer")
        else:
            first, last = steady[0].rss_mib, steady[-1].rss_mib
            growth = last / first - 1
            print(f"RSS after warm-up: {first:.1f} MiB -> {last:.1f} MiB ({growth:+.1%}; "
                  f"peak {max(w.rss_mib for w in steady):.1f} MiB)")
            if growth >= RSS_GROWTH_LIMIT:
                problems.append(f"RSS grew {growth:.1%} after the warm-up "
                                f"(limit {RSS_GROWTH_LIMIT:.0%})")
            for kind in ("udp", "http", "site"):
                values = [w.p99_ms[kind] for w in steady if w.p99_ms[kind] is not None]
                if not values:
                    continue
                middle = statistics.median(values)
                worst = max(values)
                print(f"{kind} p99 per window: median {middle:.1f} ms, worst {worst:.1f} ms, "
                      f"rate {statistics.median(w.rates[kind] for w in steady):.0f}/s")
                if worst > P99_SPREAD_LIMIT * middle:
                    problems.append(f"{kind} p99 unstable: a window at {worst:.1f} ms, median "
                                    f"{middle:.1f} ms (limit {P99_SPREAD_LIMIT:g}x)")
            achieved = statistics.median(w.rates["udp"] for w in steady)
            if achieved < 0.95 * args.rate:
                problems.append(f"UDP load reached {achieved:.0f}/s of {args.rate}/s: the "
                                f"generator or the server could not keep up (see CPU)")
        kinds = ("udp", "http", "site")
        early = {k: sum(w.errors[k] for w in windows if w.at <= args.warmup) for k in kinds}
        failed = {k: sum(w.errors[k] for w in steady) for k in kinds}
        print(f"errors (UDP: errors and timeouts; site: 5xx): {failed} after the warm-up, "
              f"{early} during it")
        if any(failed.values()):
            problems.append(f"errors after the warm-up: {failed}")
        for line in problems:
            print(f"  - {line}")
        print("soak: PASS" if not problems else "soak: FAIL")
        return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=1800, help="seconds (default 1800)")
    parser.add_argument("--rate", type=int, default=20_000, help="UDP announces a second")
    parser.add_argument("--http-rate", type=float, default=200, help="HTTP announces a second")
    parser.add_argument("--site-rate", type=float, default=10, help="site requests a second")
    parser.add_argument("--connections", type=int, default=4,
                        help="HTTP announce clients, and site visitors, each (default 4)")
    parser.add_argument("--upload-every", type=float, default=30, help="seconds between uploads")
    parser.add_argument("--hashes", type=int, default=10_000, help="info hashes in the pool")
    parser.add_argument("--pph", type=int, default=8, help="UDP peers per hash")
    parser.add_argument("--window", type=int, default=30, help="seconds per sample")
    parser.add_argument("--warmup", type=int, default=300, help="seconds not judged")
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="one more `swarmdex serve` argument (repeat as needed)")
    args = parser.parse_args()
    if min(args.duration, args.rate, args.window, args.hashes, args.pph, args.connections) < 1:
        parser.error("--duration, --rate, --window, --hashes, --pph and --connections must be "
                     "positive")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        return Soak(args, Path(tmp)).run()


if __name__ == "__main__":
    sys.exit(main())
