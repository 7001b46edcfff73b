"""`swarmdex serve` as a subprocess, for tests that need a real tracker on real sockets."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

READY_LINE = "swarmdex: ready"
TRACKER_PREFIX = "swarmdex: tracker "


class TrackerStartError(AssertionError):
    pass


class SwarmdexTracker:
    """Starts `swarmdex serve` on OS-chosen ports and learns them from its stdout.

    The process prints one `swarmdex: tracker URL` line per tracker endpoint and then
    `swarmdex: ready`; nothing is sent to it before that line.
    """

    def __init__(self, data_dir: Path, ready_timeout: float = 20) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "swarmdex",
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--udp-port",
            "0",
            "--tracker-mode",
            "open",
        ]
        self.output: deque[str] = deque(maxlen=200)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        # Keep reading for the whole run: a full pipe would block the tracker's own logging.
        self._reader = threading.Thread(target=self._read, name="swarmdex-stdout", daemon=True)
        self._reader.start()
        self.http_announce = ""
        self.udp_announce = ""
        self.needed_kill = False
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TrackerStartError(
                    f"no {READY_LINE!r} within {timeout:.0f} s\n{self.describe()}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=5)
                raise TrackerStartError(
                    f"swarmdex exited with {self.process.returncode} before it was ready\n"
                    f"{self.describe()}"
                )
            if line.startswith(TRACKER_PREFIX):
                url = line[len(TRACKER_PREFIX) :].strip()
                if url.startswith("http://"):
                    self.http_announce = url
                elif url.startswith("udp://"):
                    self.udp_announce = url
            elif line == READY_LINE:
                if not (self.http_announce and self.udp_announce):
                    raise TrackerStartError(f"ready without both tracker URLs\n{self.describe()}")
                return

    def url(self, transport: str) -> str:
        return {"http": self.http_announce, "udp": self.udp_announce}[transport]

    def describe(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        tail = "\n".join(list(self.output)[-40:])
        return f"--- swarmdex tracker ({state}): {' '.join(self.argv)}\n{tail}"

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.needed_kill = True
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode
