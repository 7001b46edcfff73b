"""Run one fuzz target under atheris (libFuzzer), starting from its kept corpus.

    .venv/bin/python -m tests.fuzz.run bencode                      # 50,000 inputs
    .venv/bin/python -m tests.fuzz.run --runs 10000000 metainfo     # the long run
    .venv/bin/python -m tests.fuzz.run --new /tmp/finds udp         # keep what it found new
    .venv/bin/python -m tests.fuzz.run udp crash-1234abcd           # replay one input

Targets: bencode, metainfo, magnet, udp, http, passkey (see targets.py). The kept corpus in
corpus/TARGET/ is read and left unchanged; the inputs libFuzzer finds interesting go to a
temporary directory, or to --new. A contract violation, an uncaught exception or an input
that takes longer than --timeout seconds stops the run with a non-zero status and writes the
input to --artifacts (default: the current directory) as crash-* or timeout-*. The last
lines libFuzzer prints give the executions and exec/s (`stat::number_of_executed_units`,
`stat::average_exec_per_sec`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["swarmdex"]):
    from tests.fuzz.targets import CORPUS, MAX_LEN, TARGETS


def libfuzzer_args(args: argparse.Namespace, found: str) -> list[str]:
    argv = [
        sys.argv[0],
        f"-max_len={MAX_LEN[args.target]}",
        f"-timeout={args.timeout}",
        f"-rss_limit_mb={args.rss_limit_mb}",
        f"-artifact_prefix={args.artifacts.rstrip('/')}/",
        "-print_final_stats=1",
    ]
    if args.inputs:  # replay the given files only
        return [*argv, "-runs=1", *args.inputs]
    # libFuzzer writes what it finds into the first directory it is given.
    return [*argv, f"-runs={args.runs}", f"-seed={args.seed}", found, str(CORPUS / args.target)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("inputs", nargs="*", help="replay these files instead of fuzzing")
    parser.add_argument("--runs", type=int, default=50_000, help="inputs to try (default 50000)")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed (default 1)")
    parser.add_argument("--timeout", type=int, default=5,
                        help="seconds one input may take before it counts as a finding")
    parser.add_argument("--rss-limit-mb", type=int, default=1024)
    parser.add_argument("--new", help="keep newly found inputs here (default: thrown away)")
    parser.add_argument("--artifacts", default=".", help="where crash and timeout inputs go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{args.target}-") as scratch:
        atheris.Setup(libfuzzer_args(args, args.new or scratch), TARGETS[args.target])
        atheris.Fuzz()


if __name__ == "__main__":
    main()
