#!/usr/bin/env python3
"""Private mode's cost: UDP announces/s of `swarmdex serve` with passkeys and accounting on,
against the same server in listed (public) mode, in one run.

Both modes serve the same pool of HASHES infohashes (the allowlist file) to the same load:
`udpload` from ../shared/bench, built here with one addition, `--url-data PATH`, which sends
PATH as BEP 41 URL data with every announce (as libtorrent does: `/announce` for a public
tracker, `/announce/PASSKEY` for a private one). In private mode one member with a passkey
plays every peer, so each announce is resolved by passkey, checked against the client rules
and credited by the ledger, and the ledger is written to SQLite every 5 s.

Per mode: a fill (every hash x PPH peers once), WARM s of warm-up, then RUNS runs of DUR s;
the server is pinned to CPU 0 and the generator to CPU 1; the server's CPU time is read from
/proc around every run. The summary gives median announces/s, server CPU-µs per announce and
the ratio private / public (target: at least 0.9).

    .venv/bin/python bench/private_mode.py                 # RUNS=3 DUR=10
    RUNS=1 DUR=3 .venv/bin/python bench/private_mode.py    # a smoke run
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "src"))

from compare_trackers import LOAD_FROM_ONE_ADDRESS, SHARED, Server, log  # noqa: E402

OUT = REPO / "bench" / "out"
PY = REPO / ".venv" / "bin" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUNS = int(os.environ.get("RUNS", "3"))
DUR = float(os.environ.get("DUR", "10"))
WARM = float(os.environ.get("WARM", "3"))
HASHES = int(os.environ.get("HASHES", "10000"))
PPH = int(os.environ.get("PPH", "8"))
HTTP_PORT, UDP_PORT = 26980, 26981


def build_udpload(out: Path) -> Path:
    """The shared generator with `--url-data`: its source is patched here, never edited."""
    source = (SHARED / "udpload.c").read_text()
    edits = [
        ("static uint8_t *g_hashes;",
         "static uint8_t *g_hashes;\nstatic const char *g_url = 0; static size_t g_url_len = 0;"),
        ("uint8_t b[98], pid[20]", "uint8_t b[98 + 2 + 255], pid[20]"),
        ("  if (send(s->fd, b, 98, 0) != 98) { t->errors++; s->slot[k].used = 0; }",
         "  size_t len = 98;\n"
         "  if (g_url_len) { b[98] = 2; b[99] = (uint8_t)g_url_len; memcpy(b + 100, g_url, g_url_len);"
         " len = 100 + g_url_len; }\n"
         "  if (send(s->fd, b, len, 0) != (ssize_t)len) { t->errors++; s->slot[k].used = 0; }"),
        ('{"fill-start", 1, 0, \'F\'},', '{"fill-start", 1, 0, \'F\'}, {"url-data", 1, 0, \'U\'},'),
        ("case 'f': g_fill = 1; break;",
         "case 'U': g_url = optarg; g_url_len = strlen(optarg); if (g_url_len > 255) usage(); break;\n"
         "    case 'f': g_fill = 1; break;"),
    ]
    for old, new in edits:
        if source.count(old) != 1:
            raise SystemExit(f"udpload.c changed: cannot find {old!r}; update bench/private_mode.py")
        source = source.replace(old, new)
    patched = out / "udpload-urldata.c"
    patched.write_text(source)
    binary = out / "udpload-urldata"
    subprocess.run(["gcc", "-O2", "-Wall", "-pthread", "-o", str(binary), str(patched)], check=True)
    return binary


async def make_member(data: Path) -> str:
    """A member with a passkey in the data dir's database (migrated here first)."""
    from swarmdex.db import create_engine, database_url, session_factory, transaction
    from swarmdex.db.migrate import upgrade
    from swarmdex.db.models import User
    from swarmdex.private import passkeys

    engine = create_engine(database_url(data, None))
    try:
        await upgrade(engine)
        async with transaction(session_factory(engine)) as session:
            user = User(name="loadmember", password_hash="not a password hash")
            session.add(user)
            await session.flush()
            return await passkeys.passkey_of(session, user)
    finally:
        await engine.dispose()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def udpload(binary: Path, url: str, *extra: str) -> dict[str, Any]:
    cmd = ["taskset", "-c", "1", str(binary), "--host", "127.0.0.1", "--port", str(UDP_PORT),
           "--hashes", str(HASHES), "--peers-per-hash", str(PPH), "--url-data", url, *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(mode: str, binary: Path, pool: Path, tmp: Path, out: Path) -> dict[str, Any]:
    data = tmp / f"data-{mode}"
    data.mkdir()
    url = "/announce"
    if mode == "private":
        url = f"/announce/{asyncio.run(make_member(data))}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", **LOAD_FROM_ONE_ADDRESS,
               SWARMDEX_MAX_CLIENTS_PER_TORRENT="100")
    server = Server(mode, ["taskset", "-c", "0", str(PY), "-m", "swarmdex", "serve",
                           "--data-dir", str(data), "--host", "127.0.0.1",
                           "--port", str(HTTP_PORT), "--udp-port", str(UDP_PORT),
                           "--tracker-mode", mode, "--allowlist", str(pool)],
                    out / f"{mode}.log", env, HTTP_PORT, UDP_PORT, "swarmdex: ready")
    server.start()
    try:
        deadline = time.monotonic() + 60
        while "swarmdex: ready" not in server.logfile.read_text(errors="replace"):
            if not server.alive() or time.monotonic() > deadline:
                raise server.died("before it was ready")
            time.sleep(0.1)
        fill = udpload(binary, url, "--fill", "--seconds", "60")
        log(f"{mode}: fill {fill.get('responses')} responses, {fill.get('errors')} errors")
        udpload(binary, url, "--seconds", str(WARM))
        runs = []
        for _ in range(RUNS):
            before = cpu_seconds(server.pid)
            result = udpload(binary, url, "--seconds", str(DUR))
            cpu = cpu_seconds(server.pid) - before
            answered = int(result["responses"])
            runs.append({"per_second": result["responses_per_s"], "errors": result["errors"],
                         "cpu_us": round(cpu * 1e6 / max(answered, 1), 1)})
            log(f"{mode}: {runs[-1]}")
        return {"mode": mode, "runs": runs,
                "median_per_second": statistics.median(r["per_second"] for r in runs),
                "median_cpu_us": statistics.median(r["cpu_us"] for r in runs)}
    finally:
        server.stop()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / time.strftime("private-%Y%m%d-%H%M%S")
    out.mkdir()
    binary = build_udpload(out)
    with tempfile.TemporaryDirectory(prefix="swarmdex-private-bench-") as tmp_name:
        tmp = Path(tmp_name)
        pool = tmp / "pool.txt"
        subprocess.run([str(binary), "--dump-hashes", str(pool), "--hashes", str(HASHES)],
                       check=True, capture_output=True)
        results = [measure(mode, binary, pool, tmp, out) for mode in ("listed", "private")]
    public, private = results
    ratio = private["median_per_second"] / public["median_per_second"]
    summary = {"runs": RUNS, "dur": DUR, "hashes": HASHES, "pph": PPH, "results": results,
               "ratio_private_to_public": round(ratio, 3)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n== private mode vs listed (public), UDP, server on CPU 0, generator on CPU 1, "
          f"{RUNS} x {DUR:g} s, {HASHES:,} hashes x {PPH} peers")
    for r in results:
        print(f"{r['mode']:8} {r['median_per_second']:>10,.0f} announces/s   "
              f"{r['median_cpu_us']:6.1f} server CPU-us per announce")
    print(f"private / public: {ratio:.2f} (target >= 0.9); output in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
