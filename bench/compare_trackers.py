#!/usr/bin/env python3
"""Compare swarmdex's tracker with Debian's opentracker in one run, on the same hash pool.

Starts both trackers pinned to CPU 0 and polls each until it answers a UDP connect and an
HTTP announce for a hash of the pool. Then takes the shared measurements in turns, each
tracker once per step so that both sides of a ratio come from the same few minutes:
`run_udp.sh`, `run_http.sh` with `HASHFILE=` the pool, and for swarmdex also `run_http.sh`
with `CLOSE=1`. Stops both and prints one summary: median announces/s of each, the ratio
swarmdex/opentracker, and the server CPU-us per request, for UDP and HTTP.

Both trackers serve the same pool of HASHES infohashes (`udpload --dump-hashes`): opentracker
as its whitelist, swarmdex in `listed` mode as its allowlist, so every announce is accepted.
Raw output of every step goes to bench/out/compare-<time>/ (bench/out/latest points there).

    .venv/bin/python bench/compare_trackers.py             # full: 3 x 10 s runs per measurement
    RUNS=1 DUR=3 .venv/bin/python bench/compare_trackers.py   # smoke run, about a minute

Settings (environment, or the matching --option):
  RUNS=3 DUR=10       measured runs per step and their length (passed to the shared scripts)
  HASHES=10000        size of the hash pool (the shared scripts' default)
  TRACKERS=opentracker,swarmdex   which to measure, in this order
  CLOSE_RUN=swarmdex  also measure HTTP with "Connection: close" for: swarmdex | both | none
  OT_PORT=26969       opentracker's TCP and UDP port
  SD_HTTP_PORT=26970 SD_UDP_PORT=26971   swarmdex's ports
  SERVER_CPUS=0       taskset CPU list for the tracker under test (GEN_CPUS=1 for the
                      generators is the shared scripts' default)
  READY_TIMEOUT=60    seconds a tracker may take to become ready
  SWARMDEX_EXTRA=     extra arguments for `swarmdex serve` (shell-quoted)
  KEEP_TMP=0          1: keep the temporary directory (pool, swarmdex data dir)
  QUIET_MAX=30 QUIET_WAIT=30   before each step, wait up to QUIET_WAIT s for the machine's
                      busy CPU (others' work: the trackers idle between steps) to drop below
                      QUIET_MAX % of a core; noted in the summary when it did not
Other settings of the shared scripts (WARM, THREADS, SOCKETS, WINDOW, PPH, CONNS, ...) pass
through unchanged. Needs root only to install missing Debian packages (opentracker, wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_BENCH", REPO.parent / "shared" / "bench")).resolve()
OUT_ROOT = REPO / "bench" / "out"
PY = REPO / ".venv" / "bin" / "python"
# The load generator is one address playing thousands of peers, re-announcing each far sooner
# than min_interval: swarmdex's per-address limits would (rightly) stop it, and early
# re-announces would get cheap answers without peers. The limits are raised out of reach and
# early re-announces answered in full; every check still runs, so its cost is measured.
LOAD_FROM_ONE_ADDRESS = {
    "SWARMDEX_MIN_INTERVAL_ENFORCED": "false",
    "SWARMDEX_MAX_PEERS_PER_ADDRESS": str(10**9),
    "SWARMDEX_NEW_SWARMS_BURST": str(10**9),
    "SWARMDEX_NEW_PEER_LISTS_PER_MIN_INTERVAL": str(10**9),
}


class Failure(Exception):
    """A step failed in a way the summary should report."""


class Stop(Exception):
    """SIGTERM or SIGHUP: unwind so that every server gets stopped."""


def _stop(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def log(msg: str) -> None:
    print(f"compare: {msg}", flush=True)


# ---------------------------------------------------------------------------- setup


def ensure_debian(*pkgs: str) -> None:
    def installed(p: str) -> bool:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False
        )
        return "install ok installed" in r.stdout

    missing = [p for p in pkgs if not installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"compare: missing Debian packages {missing}; run as root or install them")
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def port_owner(port: int, proto: str) -> str:
    flag = "-Hltnp" if proto == "tcp" else "-Hlunp"
    r = subprocess.run(
        ["ss", flag, f"( sport = :{port} )"], capture_output=True, text=True, check=False
    )
    owners = sorted(set(re.findall(r'\("([^"]+)",pid=(\d+)', r.stdout)))
    return ", ".join(f"{name} pid {pid}" for name, pid in owners) or "unknown"


def check_ports_free(ports: list[tuple[int, str]]) -> None:
    busy = []
    for port, proto in ports:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as s:
            if proto == "tcp":  # a listener conflicts; TIME_WAIT leftovers do not
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                busy.append(f"{proto} {port} ({e.strerror}; owner: {port_owner(port, proto)})")
    if busy:
        raise Failure("port busy: " + ", ".join(busy) + " - stop it or choose other ports")


# ---------------------------------------------------------------------------- servers


def udp_connect_ok(port: int) -> bool:
    """A BEP 15 connect request answered on 127.0.0.1:port."""
    txid = int.from_bytes(os.urandom(4), "big")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(struct.pack(">QII", 0x41727101980, 0, txid), ("127.0.0.1", port))
            data = s.recv(64)
        except OSError:  # refused (nothing bound yet) or no answer in time
            return False
    return len(data) >= 16 and struct.unpack(">II", data[:8]) == (0, txid)


def http_announce_ok(port: int, path: str, info_hash_hex: str) -> tuple[bool, str]:
    """An HTTP announce (event=stopped, so nothing is stored) for a pool hash is accepted."""
    q = (
        "info_hash="
        + "".join(f"%{info_hash_hex[i : i + 2]}" for i in range(0, 40, 2))
        + "&peer_id=-SD0000-000000000000&port=6881&uploaded=0&downloaded=0&left=0"
        + "&event=stopped&compact=1&numwant=0"
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", f"{path}?{q}")
        r = conn.getresponse()
        body = r.read()
    except OSError as e:
        return False, str(e)
    finally:
        conn.close()
    if r.status != 200 or b"failure reason" in body:
        return False, f"HTTP {r.status} {body[:120]!r}"
    return True, ""


class Server:
    """One tracker under test: started by us, pinned, polled until ready, stopped by pid."""

    def __init__(
        self, name: str, cmd: list[str], logfile: Path, env: dict[str, str],
        http_port: int, udp_port: int, ready_line: str | None = None,
    ) -> None:  # fmt: skip
        self.name, self.cmd, self.logfile, self.env = name, cmd, logfile, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports = [(http_port, "tcp"), (udp_port, "udp")]  # as asked for
        self.http_port, self.udp_port = http_port, udp_port  # as announced once ready
        self.http_path = "/announce"
        self.ready_line = ready_line  # printed once ready (opentracker prints nothing)

    def start(self) -> None:
        log(f"starting {self.name}: {shlex.join(self.cmd)}")
        with open(self.logfile, "wb") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 15) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return ""
        return "\n".join("    | " + x for x in lines)

    def died(self, when: str) -> Failure:
        rc = self.proc.poll() if self.proc else None
        return Failure(
            f"{self.name} exited (code {rc}) {when}; log {self.logfile}:\n{self.log_tail()}"
        )

    def wait_ready(self, timeout: float, probe_hash: str) -> float:
        """Poll until the server says so (if it prints a ready line) and answers UDP and HTTP."""
        ready_line = self.ready_line
        t0 = time.monotonic()
        deadline = t0 + timeout
        said, why = ready_line is None, "no answer yet"
        delay = 0.02
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.died("before it was ready")
            if not said and ready_line is not None:
                text = self.logfile.read_text(errors="replace")
                if ready_line in text.splitlines():
                    said = True
                    self._parse_urls(text)
            if said and udp_connect_ok(self.udp_port):
                ok, why = http_announce_ok(self.http_port, self.http_path, probe_hash)
                if ok:
                    return time.monotonic() - t0
            time.sleep(delay)  # polling interval, not a wait for the server
            delay = min(delay * 1.5, 0.25)
        raise Failure(
            f"{self.name} not ready after {timeout:.0f} s (last HTTP probe: {why}); "
            f"log {self.logfile}:\n{self.log_tail()}"
        )

    def _parse_urls(self, text: str) -> None:
        for m in re.finditer(
            r"^swarmdex: tracker (http|udp)://127\.0\.0\.1:(\d+)(/\S*)$", text, re.M
        ):
            if m[1] == "http":
                self.http_port, self.http_path = int(m[2]), m[3]
            else:
                self.udp_port = int(m[2])

    def status(self) -> dict[str, Any]:
        """CPU pinning and memory of the running server, from /proc."""
        out: dict[str, Any] = {}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, val = line.partition(":")
                if key in ("Cpus_allowed_list", "VmRSS", "VmHWM", "Threads"):
                    out[key] = val.strip()
        except OSError:
            pass
        return out

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for 10 s; killing pid {self.pid}")
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def make_server(
    name: str, args: argparse.Namespace, pin: list[str], tmp: Path, pool: Path, outdir: Path
) -> Server:
    if name == "opentracker":
        srv = Server(
            name,
            [*pin, "opentracker", "-i", "127.0.0.1", "-p", str(args.ot_port),
             "-P", str(args.ot_port), "-d", str(tmp), "-w", pool.name],
            outdir / "opentracker.log", dict(os.environ), args.ot_port, args.ot_port,
        )  # fmt: skip
        return srv
    data = tmp / "swarmdex-data"
    data.mkdir()
    srv = Server(
        name,
        [*pin, str(PY), "-m", "swarmdex", "serve", "--data-dir", str(data),
         "--host", "127.0.0.1", "--port", str(args.sd_http_port),
         "--udp-port", str(args.sd_udp_port), "--tracker-mode", "listed",
         "--allowlist", str(pool), *shlex.split(args.swarmdex_extra)],
        outdir / "swarmdex.log", dict(os.environ, PYTHONUNBUFFERED="1", **LOAD_FROM_ONE_ADDRESS),
        args.sd_http_port, args.sd_udp_port, "swarmdex: ready",
    )  # fmt: skip
    return srv


# ---------------------------------------------------------------------------- measurements


def machine_busy(seconds: float = 1.0) -> float:
    """Busy CPU of the whole machine over `seconds`, in % of one core (0-100 x cores)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:8]) - v[3] - v[4], sum(v[:8])

    b0, t0 = sample()
    time.sleep(seconds)  # the sampling window
    b1, t1 = sample()
    return 100.0 * (os.cpu_count() or 1) * (b1 - b0) / max(t1 - t0, 1)


def wait_quiet(max_pct: float, timeout: float) -> float:
    """Sample until the machine's busy CPU is below `max_pct` or `timeout` passes; return it.

    Between steps the trackers are idle, so what is busy is someone else's work, which would
    take CPU from the tracker or the load generator during the step."""
    deadline = time.monotonic() + timeout
    busy = machine_busy()
    while busy > max_pct and time.monotonic() < deadline:
        busy = machine_busy()
    return busy


def run_step(label: str, cmd: list[str], env: dict[str, str], out: Path) -> list[str]:
    """Run one shared script; echo and save its lines. Its process group is ended on interrupt."""
    log(f"{label}: {shlex.join(cmd)}")
    lines: list[str] = []
    with open(out, "w") as f:
        f.write(f"# {shlex.join(cmd)}\n")
        p = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            assert p.stdout is not None
            for line in p.stdout:
                f.write(line)
                f.flush()
                lines.append(line.rstrip("\n"))
                print(f"  [{label}] {line}", end="", flush=True)
            rc = p.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            p.wait()
            raise
    if rc:
        raise Failure(f"{label}: {cmd[0]} exited with code {rc} (output in {out})")
    return lines


def jsons(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def summarize(kind: str, lines: list[str]) -> dict[str, Any]:
    """The figures of one run_udp.sh / run_http.sh output, computed as the scripts compute them."""
    objs = jsons(lines)
    rate_key = "responses_per_s" if kind == "udp" else "requests_per_s"
    if kind == "udp":
        runs = [d for d in objs if d.get("mode") == "load" and "probe" not in d]
    else:
        runs = [d for d in objs if rate_key in d]
    if not runs:
        raise Failure(f"no measured {kind} runs in the output")
    rates = sorted(r[rate_key] for r in runs)
    med = statistics.median(rates)
    mid = min(runs, key=lambda r: abs(r[rate_key] - med))
    s: dict[str, Any] = {
        "median": med, "min": rates[0], "max": rates[-1], "n": len(rates),
        "cpu_us_per_req": statistics.median(
            1e4 * r["server_cpu_pct"] / max(r[rate_key], 1) for r in runs),
        "server_cpu_pct": statistics.median(r["server_cpu_pct"] for r in runs),
        "gen_cpu_pct": statistics.median(r["gen_cpu_pct"] for r in runs),
        "other_cpu_pct_max": max(r["other_cpu_pct"] for r in runs),
        "p50_us": mid["p50_us"], "p99_us": mid["p99_us"],
        "dur": statistics.median(r.get("elapsed_s", r.get("duration_s", 0)) for r in runs),
        "final": next((x for x in reversed(lines) if x and not x.startswith("{")), ""),
    }  # fmt: skip
    if kind == "udp":
        s["errors"] = sum(r["errors"] for r in runs)
        s["timeouts"] = sum(r["timeouts"] for r in runs)
        s["short_stray"] = sum(r["short"] + r["stray"] for r in runs)
        s["udp_drops"] = sum(r["server_udp_drops"] for r in runs)
        fills = [d for d in objs if d.get("mode") == "fill"]
        if fills:
            el = sum(d["elapsed_s"] for d in fills)
            s["fill_per_s"] = sum(d["responses"] for d in fills) / max(el, 1e-9)
            s["fill_errors"] = sum(d["errors"] + d["timeouts"] for d in fills)
            s["fill_drops"] = sum(d["server_udp_drops"] for d in fills)
        chk = next((d for d in objs if "scrape_check" in d), None)
        if chk:
            s["scrape_check"], s["expected_peers"] = chk["scrape_check"], chk["expected_peers"]
            s["scrape_torrents"] = chk["torrents"]
        probe = next((d for d in objs if "probe" in d), None)
        if probe:
            s["unloaded_p50_us"], s["unloaded_p99_us"] = probe["p50_us"], probe["p99_us"]
    else:
        s["failures"] = sum(r["failures"] + r["non200"] for r in runs)
        s["conn_errors"] = sum(r["err_connect"] + r["err_timeout"] for r in runs)
        s["read_write_errors"] = sum(r["err_read"] + r["err_write"] for r in runs)
    return s


def anomalies(name: str, step: str, s: dict[str, Any]) -> list[str]:
    notes = []
    for key in ("errors", "timeouts", "short_stray", "udp_drops", "fill_errors", "fill_drops",
                "failures", "conn_errors", "read_write_errors"):  # fmt: skip
        if not s.get(key):
            continue
        if key == "read_write_errors" and (name == "opentracker" or step == "http_close"):
            # wrk counts every connection the server closes as a read error: opentracker
            # closes after each answer, and CLOSE=1 asks for exactly that.
            if s[key] > 1.05 * s["median"] * s["n"] * s.get("dur", 1e9):
                notes.append(
                    f"{name} {step}: read/write errors {s[key]} (more than one per request)"
                )
            continue
        notes.append(f"{name} {step}: {key.replace('_', ' ')} {s[key]}")
    if "scrape_check" in s and s["scrape_check"] != s["expected_peers"]:
        notes.append(
            f"{name} {step}: scrape_check {s['scrape_check']} peers in {s['scrape_torrents']} "
            f"torrents, expected {s['expected_peers']}"
        )
    if s.get("other_cpu_pct_max", 0) > 25:
        notes.append(
            f"{name} {step}: other CPU up to {s['other_cpu_pct_max']:.0f}% (busy machine?)"
        )
    return notes


# ---------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    e = os.environ.get
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="See bench/README.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    ap.add_argument("--runs", type=int, default=int(e("RUNS", "3")))
    ap.add_argument("--dur", type=float, default=float(e("DUR", "10")))
    ap.add_argument("--hashes", type=int, default=int(e("HASHES", "10000")))
    ap.add_argument("--trackers", default=e("TRACKERS", "opentracker,swarmdex"))
    ap.add_argument(
        "--close-run", default=e("CLOSE_RUN", "swarmdex"), choices=["swarmdex", "both", "none"]
    )
    ap.add_argument("--ot-port", type=int, default=int(e("OT_PORT", "26969")))
    ap.add_argument("--sd-http-port", type=int, default=int(e("SD_HTTP_PORT", "26970")))
    ap.add_argument("--sd-udp-port", type=int, default=int(e("SD_UDP_PORT", "26971")))
    ap.add_argument("--server-cpus", default=e("SERVER_CPUS", "0"))
    ap.add_argument("--ready-timeout", type=float, default=float(e("READY_TIMEOUT", "60")))
    ap.add_argument("--swarmdex-extra", default=e("SWARMDEX_EXTRA", ""))
    ap.add_argument("--keep-tmp", action="store_true", default=e("KEEP_TMP", "0") == "1")
    ap.add_argument("--quiet-max", type=float, default=float(e("QUIET_MAX", "30")))
    ap.add_argument("--quiet-wait", type=float, default=float(e("QUIET_WAIT", "30")))
    a = ap.parse_args()
    a.trackers = [t.strip() for t in a.trackers.split(",") if t.strip()]
    if not a.trackers or set(a.trackers) - {"opentracker", "swarmdex"}:
        ap.error("--trackers: a list of opentracker, swarmdex")
    ports = [a.ot_port, a.sd_http_port, a.sd_udp_port]
    if any(not 1024 <= p < 32768 for p in ports) or a.sd_http_port == a.sd_udp_port:
        ap.error("ports must be distinct (for swarmdex) and within 1024-32767")
    if a.runs < 1 or a.dur <= 0 or a.hashes < 1:
        ap.error("RUNS, DUR and HASHES must be positive")
    return a


def fmt_rate(s: dict[str, Any] | None) -> str:
    if not s:
        return "-"
    return f"{s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    return f"{a['median'] / b['median']:.2f}" if a and b and b["median"] else "-"


def report(args: argparse.Namespace, res: dict[str, dict[str, Any]], notes: list[str]) -> str:
    ot, sd = res.get("opentracker", {}), res.get("swarmdex", {})
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, key: str, ot_key: str | None = None) -> None:
        a, b = ot.get(ot_key or key), sd.get(key)
        rows.append((label, fmt_rate(a), fmt_rate(b), ratio(b, a)))
        rows.append((
            "  server CPU-us/req (cpu %)",
            f"{a['cpu_us_per_req']:.1f} ({a['server_cpu_pct']:.0f}%)" if a else "-",
            f"{b['cpu_us_per_req']:.1f} ({b['server_cpu_pct']:.0f}%)" if b else "-",
            f"{b['cpu_us_per_req'] / a['cpu_us_per_req']:.2f}" if a and b and a["cpu_us_per_req"] else "-",
        ))  # fmt: skip
        rows.append((
            "  p50/p99 latency us",
            f"{a['p50_us']}/{a['p99_us']}" if a else "-",
            f"{b['p50_us']}/{b['p99_us']}" if b else "-",
            "",
        ))  # fmt: skip

    row("UDP announces/s, median (min-max)", "udp")
    row("HTTP announces/s, keep-alive", "http")
    if args.close_run == "both":
        row("HTTP announces/s, CLOSE=1", "http_close")
    elif args.close_run == "swarmdex":
        row("HTTP CLOSE=1 (opentracker: keep-alive*)", "http_close", "http")
    w = max(len(r[0]) for r in rows)
    out = [
        f"== swarmdex vs opentracker, {time.strftime('%Y-%m-%d %H:%M:%S')}: RUNS={args.runs} "
        f"DUR={args.dur:g}s HASHES={args.hashes}, trackers on CPU {args.server_cpus}, "
        f"generators on CPU {os.environ.get('GEN_CPUS', '1')}",
        f"{'':{w}}  {'opentracker':>22}  {'swarmdex':>22}  {'sd/ot':>6}",
        *(f"{a:{w}}  {b:>22}  {c:>22}  {d:>6}".rstrip() for a, b, c, d in rows),
    ]
    if args.close_run == "swarmdex":
        out.append("  * opentracker closes every HTTP connection itself, so its keep-alive run is")
        out.append(
            "    already one connection per announce; the CLOSE=1 ratio compares like with like."
        )
    for name in ("opentracker", "swarmdex"):
        r = res.get(name, {})
        u = r.get("udp")
        if u:
            out.append(
                f"{name}: UDP fill {u.get('fill_per_s', 0):.0f}/s, scrape_check "
                f"{u.get('scrape_check')}/{u.get('expected_peers')} peers; unloaded p50/p99 "
                f"{u.get('unloaded_p50_us')}/{u.get('unloaded_p99_us')} us; "
                f"errors+timeouts {u['errors'] + u['timeouts']}, UDP drops {u['udp_drops']}"
            )
        if r.get("server"):
            out.append(f"{name}: server {r['server']}")
        for step in ("udp", "http", "http_close"):
            if r.get(step):
                out.append(f"  {name} {step}: {r[step]['final']}")
    out.append("checks:" + ("" if notes else " none flagged"))
    out.extend("  ! " + n for n in notes)
    return "\n".join(out)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)

    ensure_debian("opentracker", "wrk")
    if "swarmdex" in args.trackers and not PY.exists():
        raise SystemExit(f"compare: no {PY}; create the venv first (scripts/serve does)")
    subprocess.run(["make", "-s", "-C", str(SHARED), "udpload"], check=True)
    udpload = SHARED / "udpload"
    wanted = []
    if "opentracker" in args.trackers:
        wanted += [(args.ot_port, "tcp"), (args.ot_port, "udp")]
    if "swarmdex" in args.trackers:
        wanted += [(args.sd_http_port, "tcp"), (args.sd_udp_port, "udp")]
    try:
        check_ports_free(wanted)
    except Failure as e:
        raise SystemExit(f"compare: {e}") from None

    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = OUT_ROOT / f"compare-{stamp}"
    outdir.mkdir(parents=True, exist_ok=False)
    latest = OUT_ROOT / "latest"
    with contextlib.suppress(OSError):
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(outdir.name)

    tmp = Path(tempfile.mkdtemp(prefix="swarmdex-bench-", dir="/tmp"))
    tmp.chmod(0o755)  # opentracker drops privileges before it reads its whitelist
    pool = tmp / "whitelist.txt"
    subprocess.run(
        [str(udpload), "--dump-hashes", str(pool), "--hashes", str(args.hashes)], check=True
    )
    pool.chmod(0o644)
    probe_hash = pool.read_text().split("\n", 1)[0].strip()
    log(f"hash pool: {args.hashes} hashes in {pool}; raw output in {outdir}")

    base_env = dict(os.environ, RUNS=str(args.runs), DUR=f"{args.dur:g}", HASHES=str(args.hashes))
    base_env.pop("HASHFILE", None)
    base_env.pop("CLOSE", None)
    pin = ["taskset", "-c", args.server_cpus]
    res: dict[str, dict[str, Any]] = {name: {} for name in args.trackers}
    notes: list[str] = []
    failed = False
    servers: list[Server] = []
    live: dict[str, Server] = {}
    try:
        # Start every tracker, then take the steps in turns (UDP of each, HTTP of each, ...),
        # so that both figures of a ratio come from the same few minutes of a shared machine.
        # The tracker not under load idles on its CPU meanwhile.
        for name in args.trackers:
            srv = make_server(name, args, pin, tmp, pool, outdir)
            try:
                check_ports_free(srv.ports)
                servers.append(srv)
                srv.start()
                took = srv.wait_ready(args.ready_timeout, probe_hash)
            except Failure as e:
                failed = True
                notes.append(f"{name}: FAILED: {e}")
                log(f"{name} failed: {e}")
                continue
            st = srv.status()
            log(
                f"{name} ready in {took:.2f} s (pid {srv.pid}, CPUs {st.get('Cpus_allowed_list')}, "
                f"udp {srv.udp_port}, http {srv.http_port}{srv.http_path})"
            )
            if srv.ports != [(srv.http_port, "tcp"), (srv.udp_port, "udp")]:
                notes.append(
                    f"{name}: says it serves {srv.http_port}/{srv.udp_port}, not {srv.ports}"
                )
            if st.get("Cpus_allowed_list") != args.server_cpus:
                notes.append(f"{name}: pinned to CPUs {st.get('Cpus_allowed_list')}")
            live[name] = srv

        for step in ("udp", "http", "http_close"):
            for name, srv in live.items():
                if step == "http_close" and not (
                    args.close_run == "both"
                    or (args.close_run == "swarmdex" and name == "swarmdex")
                ):
                    continue
                if not srv.alive():
                    if "died" not in res[name]:
                        res[name]["died"] = True
                        failed = True
                        notes.append(f"{name}: FAILED: {srv.died(f'before the {step} step')}")
                    continue
                env = dict(base_env, SERVER_PID=str(srv.pid))
                url = f"http://127.0.0.1:{srv.http_port}{srv.http_path}"
                if step == "udp":
                    cmd = [str(SHARED / "run_udp.sh"), "127.0.0.1", str(srv.udp_port)]
                else:
                    cmd = [str(SHARED / "run_http.sh"), url]
                    env["HASHFILE"] = str(pool)
                    if step == "http_close":
                        env["CLOSE"] = "1"
                if args.quiet_wait > 0:
                    busy = wait_quiet(args.quiet_max, args.quiet_wait)
                    if busy > args.quiet_max:
                        notes.append(
                            f"{name} {step}: started on a busy machine ({busy:.0f}% of a core "
                            f"in use by others after waiting {args.quiet_wait:g} s)"
                        )
                try:
                    lines = run_step(f"{name} {step}", cmd, env, outdir / f"{name}-{step}.txt")
                    res[name][step] = s = summarize(step[:4], lines)
                    notes += anomalies(name, step, s)
                except Failure as e:
                    failed = True
                    notes.append(f"{name} {step}: FAILED: {e}")
                    log(f"{name} {step} failed: {e}")

        for name, srv in live.items():
            st = srv.status()
            if st:
                res[name]["server"] = (
                    f"RSS {st.get('VmRSS', '?')} (peak {st.get('VmHWM', '?')}), "
                    f"{st.get('Threads', '?')} threads after the runs"
                )
    except (KeyboardInterrupt, Stop) as e:
        log(f"interrupted ({type(e).__name__} {e}); stopping the trackers")
        notes.append(f"interrupted ({type(e).__name__} {e}): the figures are incomplete")
        failed = True
    finally:
        for srv in servers:
            was_alive = srv.alive()
            rc = srv.stop()
            if was_alive and rc not in (None, 0, -signal.SIGTERM):
                notes.append(f"{srv.name}: exit code {rc} after SIGTERM (log {srv.logfile})")
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    text = report(args, res, notes)
    print("\n" + text, flush=True)
    (outdir / "summary.txt").write_text(text + "\n")
    (outdir / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    return 1 if failed or any("FAILED" in n for n in notes) else 0


if __name__ == "__main__":
    sys.exit(main())
