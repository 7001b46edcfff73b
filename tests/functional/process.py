"""`swarmdex` as a real subprocess: start `serve`, learn its URLs from stdout, stop it by signal."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

READY = "swarmdex: ready"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without any SWARMDEX_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDEX_")}
    env.update(extra or {})
    return env


def swarmdex(*args: str, env: Mapping[str, str] | None = None, timeout: float = 10.0,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one `swarmdex` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "swarmdex", *args],
        env=clean_env(env), capture_output=True, text=True, timeout=timeout, cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


class Serve:
    """`swarmdex serve` on OS-chosen ports. Output (stdout and stderr) is collected throughout."""

    def __init__(self, data_dir: Path | None, *flags: str, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, command: tuple[str, ...] = ("serve",)) -> None:
        """`swarmdex serve --data-dir DATA_DIR --host 127.0.0.1 FLAGS...`; with `data_dir`
        None, exactly `swarmdex COMMAND FLAGS...`."""
        prefix = [] if data_dir is None else ["--data-dir", str(data_dir), "--host", "127.0.0.1"]
        self.argv = [sys.executable, "-m", "swarmdex", *command, *prefix, *flags]
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            self.argv, env=clean_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.urls: dict[str, tuple[str, int]] = {}

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> Serve:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {READY!r} within {timeout} s\n{self.describe()}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=STOP_TIMEOUT)
                raise AssertionError(f"exited {self.process.returncode} before ready\n{self.describe()}")
            if line.startswith("swarmdex: tracker "):
                parts = urlsplit(line.split(" ", 2)[2])
                assert parts.hostname is not None and parts.port is not None, line
                self.urls[parts.scheme] = (parts.hostname, parts.port)
            if line == READY:
                assert {"http", "udp"} <= self.urls.keys(), self.describe()
                return self

    def __enter__(self) -> Serve:
        try:
            return self.wait_ready()
        except BaseException:
            self.kill()
            raise

    def __exit__(self, *exc: object) -> None:
        self.kill()

    @property
    def http(self) -> tuple[str, int]:
        return self.urls["http"]

    @property
    def udp(self) -> tuple[str, int]:
        return self.urls["udp"]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig` and wait for the exit status; a hang fails the caller's assertion."""
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running {timeout} s after {sig.name}\n{self.describe()}") from None
        self._reader.join(timeout=STOP_TIMEOUT)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}\n" + "\n".join(self.lines[-40:])
