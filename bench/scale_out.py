#!/usr/bin/env python3
"""UDP announces/s as swarmdex grows past one process, with opentracker in the same run.

Four setups, measured in turns (each once per round, so every ratio comes from the same few
minutes of a shared machine):

  ot   opentracker (Debian), one thread;
  a    `swarmdex serve`: site and tracker in one process, peers in memory (the default);
  b    one `swarmdex tracker` node, peers in Redis;
  c    two `swarmdex tracker` nodes on the same Redis.

Every setup gets the same load: two `udpload` generators (../shared/bench), each with its
own sockets and window, over one pool of HASHES infohashes x PPH peers, filled once per store
before the rounds. For (c) each generator announces to its own node, so a swarm's peers come
from both; for the others both announce to the one tracker. Each server process's CPU time
(/proc/PID/stat) is read around every run, so besides announces/s the summary gives the
server CPU-µs per announce: for (b) and (c) that of the nodes and that of Redis.

CPU placement on a 2-core machine (the default, `--layout pinned`): opentracker, (a) and the
node of (b) on CPU 0; Redis and the generators on CPU 1. (c) has one node per CPU, so it
shares CPU 1 with Redis and the generators: on two cores a second node can only use what
Redis leaves. `--layout shared` pins nothing, for every setup: the scheduler places the
servers, Redis and the generators, so (b) and (c) are compared like for like there.

    .venv/bin/python bench/scale_out.py                 # 3 rounds x 10 s, about 6 minutes
    .venv/bin/python bench/scale_out.py --runs 1 --dur 3 --only a,b   # a smoke run

Load goes to 127.0.0.1 only; every generator call is bounded in time and count. Output:
bench/out/scale-<time>/ (summary.txt, results.json, the servers' logs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import compare_trackers as ct  # the same servers and checks as the comparison
import redis as redis_py
from tests.support.redis_server import RedisServer, redis_server

SETUPS = ("ot", "a", "b", "c")
TITLES = {
    "ot": "opentracker (1 thread)",
    "a": "(a) serve, memory store",
    "b": "(b) 1 tracker node, Redis",
    "c": "(c) 2 tracker nodes, Redis",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"scale: {msg}", flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def used_memory(redis: RedisServer | None) -> int:
    """Redis's `used_memory` (INFO memory), 0 without Redis."""
    if redis is None:
        return 0
    with redis_py.Redis(port=redis.port) as client:
        return int(client.info("memory")["used_memory"])


@dataclass
class Setup:
    name: str
    servers: list[ct.Server]  # the trackers the generators aim at (one per generator pair slot)
    cpu_of: dict[str, int]  # process label -> pid whose CPU is accounted
    runs: list[dict[str, Any]] = field(default_factory=list)
    fill: dict[str, Any] = field(default_factory=dict)


def swarmdex(name: str, role: str, http: int, udp: int, data: Path, pool: Path, pin: list[str],
             outdir: Path, extra: list[str]) -> ct.Server:
    cmd = [*pin, str(ct.PY), "-m", "swarmdex", role, "--data-dir", str(data),
           "--host", "127.0.0.1", "--port", str(http), "--udp-port", str(udp),
           "--tracker-mode", "listed", "--allowlist", str(pool), *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **ct.LOAD_FROM_ONE_ADDRESS)
    return ct.Server(name, cmd, outdir / f"{name}.log", env, http, udp, "swarmdex: ready")


def generate(udpload: Path, ports: list[int], args: argparse.Namespace, seconds: float,
             extra: list[str], gen_pin: list[str]) -> list[dict[str, Any]]:
    """One udpload per port in `ports`, started together; their JSON lines."""
    procs = []
    for port in ports:
        cmd = [*gen_pin, str(udpload), "--host", "127.0.0.1", "--port", str(port),
               "--hashes", str(args.hashes), "--peers-per-hash", str(args.pph),
               "--threads", "1", "--sockets", str(args.sockets), "--window", str(args.window),
               "--seconds", f"{seconds:g}", "--max-requests", "20000000", *extra]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                      start_new_session=True))
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=seconds + 30)
        if p.returncode:
            raise ct.Failure(f"udpload exited with {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def fill(udpload: Path, setup: Setup, args: argparse.Namespace, gen_pin: list[str]) -> None:
    """Announce every (hash, peer) of the pool once, through the first server of the setup."""
    port = setup.servers[0].udp_port
    total = args.hashes * args.pph
    start, t0 = 0, time.monotonic()
    for _ in range(10):  # chunks of at most 60 s
        line = generate(udpload, [port], args, 60, ["--fill", "--fill-start", str(start)], gen_pin)[0]
        start = line["fill_next"]
        if start >= total:
            break
    check = generate(udpload, [port], args, 1,
                     ["--fill", "--fill-start", str(total), "--scrape-check"], gen_pin)[0]
    setup.fill = {"peers": total, "seconds": round(time.monotonic() - t0, 1),
                  "scrape_peers": check.get("scrape_peers")}
    log(f"{setup.name}: filled {total} peers in {setup.fill['seconds']} s "
        f"(scrape finds {check.get('scrape_peers')})")


def measure(udpload: Path, setup: Setup, args: argparse.Namespace, gen_pin: list[str]) -> None:
    ports = [s.udp_port for s in setup.servers]
    if len(ports) == 1:
        ports = ports * 2  # both generators on the one tracker
    generate(udpload, ports, args, args.warm, [], gen_pin)
    before = {label: cpu_seconds(pid) for label, pid in setup.cpu_of.items()}
    t0 = time.monotonic()
    lines = generate(udpload, ports, args, args.dur, [], gen_pin)
    wall = time.monotonic() - t0
    used = {label: cpu_seconds(pid) - before[label] for label, pid in setup.cpu_of.items()}
    rate = sum(x["responses_per_s"] for x in lines)
    run = {
        "announces_per_s": rate,
        "errors": sum(x["errors"] + x["timeouts"] for x in lines),
        "p50_us": max(x["p50_us"] for x in lines),
        "p99_us": max(x["p99_us"] for x in lines),
        "cpu_pct": {k: round(100 * v / wall, 1) for k, v in used.items()},
        "cpu_us_per_announce": {k: round(1e6 * v / max(rate * wall, 1), 1) for k, v in used.items()},
    }
    setup.runs.append(run)
    log(f"{setup.name}: {rate:.0f} announces/s, CPU-us/announce {run['cpu_us_per_announce']}, "
        f"p50/p99 {run['p50_us']}/{run['p99_us']} us, errors+timeouts {run['errors']}")


def summary(setups: dict[str, Setup], args: argparse.Namespace, notes: list[str],
            redis_memory: dict[str, Any]) -> str:
    def median(setup: Setup, key: str) -> float:
        return statistics.median(r[key] for r in setup.runs) if setup.runs else 0.0

    rates = {name: median(s, "announces_per_s") for name, s in setups.items()}
    lines = [f"== swarmdex scale-out, {time.strftime('%Y-%m-%d %H:%M:%S')}: "
             f"{args.runs} rounds x {args.dur:g} s, {args.hashes} hashes x {args.pph} peers, "
             f"2 generators x {args.sockets} sockets x window {args.window}, layout {args.layout}",
             f"{'':34}{'announces/s':>12}  {'min-max':>13}  {'/ot':>5}  {'/a':>5}  "
             f"server CPU-us per announce"]
    for name, s in setups.items():
        if not s.runs:
            lines.append(f"{TITLES[name]:34}{'-':>12}")
            continue
        values = sorted(r["announces_per_s"] for r in s.runs)
        cpu = {k: statistics.median(r["cpu_us_per_announce"][k] for r in s.runs) for k in s.cpu_of}
        cpu_text = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        vs_ot = f"{rates[name] / rates['ot']:.2f}" if rates.get("ot") else "-"
        vs_a = f"{rates[name] / rates['a']:.2f}" if rates.get("a") else "-"
        lines.append(f"{TITLES[name]:34}{rates[name]:12.0f}  {values[0]:6.0f}-{values[-1]:<6.0f}  "
                     f"{vs_ot:>5}  {vs_a:>5}  {cpu_text}")
    if rates.get("b") and rates.get("c"):
        lines.append(f"(c)/(b) = {rates['c'] / rates['b']:.2f}")
    if redis_memory:
        lines.append(f"Redis after the fill: {redis_memory}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds (each setup once a round)")
    ap.add_argument("--dur", type=float, default=10.0, help="seconds of a measured run")
    ap.add_argument("--warm", type=float, default=2.0, help="seconds of load before each run")
    ap.add_argument("--hashes", type=int, default=10_000)
    ap.add_argument("--pph", type=int, default=64, help="peers per hash")
    ap.add_argument("--sockets", type=int, default=8, help="sockets of each generator")
    ap.add_argument("--window", type=int, default=16, help="requests in flight per socket")
    ap.add_argument("--only", default=",".join(SETUPS), help="setups to run, of ot,a,b,c")
    ap.add_argument("--layout", choices=("pinned", "shared"), default="pinned")
    ap.add_argument("--base-port", type=int, default=27100, help="first of the ports used")
    ap.add_argument("--swarmdex-extra", default="", help="more flags for every swarmdex process")
    args = ap.parse_args()
    args.only = [s for s in args.only.split(",") if s]
    if unknown := set(args.only) - set(SETUPS):
        ap.error(f"unknown setups {sorted(unknown)}")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, ct._stop)
    signal.signal(signal.SIGHUP, ct._stop)
    ct.ensure_debian("opentracker", "redis-server")
    subprocess.run(["make", "-s", "-C", str(ct.SHARED), "udpload"], check=True)
    udpload = ct.SHARED / "udpload"
    outdir = ct.OUT_ROOT / f"scale-{time.strftime('%Y%m%d-%H%M%S')}"
    outdir.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="swarmdex-scale-", dir="/tmp"))
    tmp.chmod(0o755)  # opentracker drops privileges before it reads its whitelist
    pool = tmp / "whitelist.txt"
    subprocess.run([str(udpload), "--dump-hashes", str(pool), "--hashes", str(args.hashes)],
                   check=True)
    pool.chmod(0o644)
    probe = pool.read_text().split("\n", 1)[0].strip()

    pinned = args.layout == "pinned"
    cpu0 = ["taskset", "-c", "0"] if pinned else []
    cpu1 = ["taskset", "-c", "1"] if pinned else []
    gen_pin = cpu1
    extra = args.swarmdex_extra.split()
    p = args.base_port
    nodes_data = tmp / "nodes"
    nodes_data.mkdir()
    (tmp / "serve").mkdir()

    setups: dict[str, Setup] = {}
    started: list[ct.Server] = []
    notes: list[str] = []
    redis_memory: dict[str, Any] = {}
    failed = False
    running = contextlib.ExitStack()
    redis: RedisServer | None = None
    store: list[str] = []
    try:
        if "b" in args.only or "c" in args.only:
            # The tests' throwaway server (nothing saved), pinned as the layout says.
            redis = running.enter_context(redis_server())
            if cpu1:
                subprocess.run(["taskset", "-pc", "1", str(redis.process.pid)], check=True,
                               stdout=subprocess.DEVNULL)
            store = ["--peer-store-url", redis.url]
        for name in args.only:
            if name == "ot":
                servers = [ct.Server("opentracker", [*cpu0, "opentracker", "-i", "127.0.0.1",
                                                     "-p", str(p), "-P", str(p), "-d", str(tmp),
                                                     "-w", pool.name],
                                     outdir / "opentracker.log", dict(os.environ), p, p)]
            elif name == "a":
                servers = [swarmdex("serve", "serve", p + 1, p + 2, tmp / "serve", pool, cpu0,
                                    outdir, extra)]
            elif name == "b":
                servers = [swarmdex("node-b", "tracker", p + 3, p + 4, nodes_data, pool, cpu0,
                                    outdir, [*store, *extra])]
            else:
                servers = [swarmdex("node-c1", "tracker", p + 5, p + 6, nodes_data, pool, cpu0,
                                    outdir, [*store, *extra]),
                           swarmdex("node-c2", "tracker", p + 7, p + 8, nodes_data, pool, cpu1,
                                    outdir, [*store, *extra])]
            for srv in servers:
                ct.check_ports_free(srv.ports)
                started.append(srv)
                srv.start()
                took = srv.wait_ready(60, probe)
                log(f"{srv.name} ready in {took:.1f} s (pid {srv.pid}, "
                    f"CPUs {srv.status().get('Cpus_allowed_list')})")
            cpu_of = {srv.name: srv.pid for srv in servers}
            if redis is not None and name in ("b", "c"):
                cpu_of["redis"] = redis.process.pid
            setups[name] = Setup(name, servers, cpu_of)

        # One fill per store: (b) and (c) share Redis, so the second of them finds it full.
        used_before = used_memory(redis)
        filled_redis = False
        for name, setup in setups.items():
            if name in ("b", "c"):
                if filled_redis:
                    continue
                filled_redis = True
            fill(udpload, setup, args, gen_pin)
        if filled_redis:
            after = used_memory(redis)
            peers = args.hashes * args.pph
            redis_memory = {"used_memory_delta": after - used_before,
                            "bytes_per_peer": round((after - used_before) / peers, 1)}

        for round_ in range(args.runs):
            for name, setup in setups.items():
                dead = [s.name for s in setup.servers if not s.alive()]
                if dead:
                    raise ct.Failure(f"{', '.join(dead)} died before round {round_ + 1}")
                busy = ct.wait_quiet(30, 30)
                if busy > 30:
                    notes.append(f"{name} round {round_ + 1}: machine busy ({busy:.0f}% of a core)")
                measure(udpload, setup, args, gen_pin)
    except (KeyboardInterrupt, ct.Stop) as exc:
        notes.append(f"interrupted ({type(exc).__name__}): figures incomplete")
        failed = True
    except ct.Failure as exc:
        notes.append(f"FAILED: {exc}")
        failed = True
    finally:
        for srv in started:
            srv.stop()
        running.close()  # Redis
        shutil.rmtree(tmp, ignore_errors=True)

    text = summary(setups, args, notes, redis_memory)
    print("\n" + text, flush=True)
    (outdir / "summary.txt").write_text(text + "\n")
    (outdir / "results.json").write_text(json.dumps(
        {name: {"runs": s.runs, "fill": s.fill} for name, s in setups.items()}, indent=1) + "\n")
    with contextlib.suppress(OSError):
        latest = ct.OUT_ROOT / "latest-scale"
        latest.unlink(missing_ok=True)
        latest.symlink_to(outdir.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
