"""Every fuzz target holds over its kept corpus and over a short fuzzing run.

The long runs (millions of inputs a target) are documented in bench/README.md; this keeps
each target working and its corpus clean on every test run, in seconds a target.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .targets import CORPUS, TARGETS

RUNS = 20_000
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_kept_corpus_replays_clean(target: str) -> None:
    inputs = sorted((CORPUS / target).iterdir())
    assert inputs, f"corpus/{target} is empty"
    for path in inputs:
        try:
            TARGETS[target](path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"corpus/{target}/{path.name} breaks the contract") from exc


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_short_fuzzing_run_finds_nothing(target: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "--runs", str(RUNS), "--artifacts",
         str(tmp_path), target],
        cwd=ROOT, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    found = sorted(p.name for p in tmp_path.iterdir())
    assert done.returncode == 0 and not found, (
        f"{target}: exit {done.returncode}, inputs kept in {tmp_path}: {found}\n{output[-4000:]}")
    executed = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert executed is not None and int(executed.group(1)) >= RUNS, output[-2000:]
