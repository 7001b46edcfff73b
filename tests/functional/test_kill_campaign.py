"""The kill -9 campaign (bench/kill_campaign.py) in brief: a few kills of a real server in the
middle of uploads, comments, ledger entries, takedown decisions and account deletions, and
every time a sound database holding every acknowledged write. Also: its check does catch a
half-written torrent and a lost acknowledged write, so a clean run means something."""

from __future__ import annotations

import importlib.util
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "kill_campaign.py"
KILLS = 3


def _campaign_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kill_campaign", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_kills_mid_write_lose_nothing_acknowledged(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", str(KILLS), "--seed", "11", "--max-delay", "3",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, cwd=ROOT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert f"{KILLS} of {KILLS} kills clean (PASS)" in output, output[-3000:]
    acknowledged = re.search(r"acknowledged in all: \{(.*)\}", output)
    assert acknowledged is not None and acknowledged.group(1), (
        f"no write was acknowledged: the kills checked nothing\n{output[-3000:]}")


def test_check_finds_a_torrent_without_its_files_and_a_lost_entry(tmp_path: Path) -> None:
    kc = _campaign_module()
    campaign = kc.Campaign(tmp_path / "data", random.Random(3), workers=1)
    campaign.set_up()  # one real upload through the API, then a clean stop
    assert campaign.check() == []
    campaign.acked.donations["never-booked"] = 100
    db = sqlite3.connect(tmp_path / "data" / "swarmdex.db")
    with db:
        db.execute("DELETE FROM torrent_files WHERE position > 0 OR torrent_id IN "
                   "(SELECT id FROM torrents WHERE file_count = 1)")
    db.close()
    problems = "\n".join(campaign.check())
    assert "file rows" in problems, problems
    assert "acknowledged ledger entry never-booked lost" in problems, problems
