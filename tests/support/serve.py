"""`swarmdex` as a real subprocess: start `serve`, learn its URLs from stdout, stop it by signal.

The process prints one `swarmdex: tracker URL` line per tracker endpoint and then
`swarmdex: ready`; nothing is sent to it before that line. Its output (stdout and stderr)
is read for the whole run, since a full pipe would block the server's own logging.
"""

from __future__ import annotations

import contextlib
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

SWARMDEX = (sys.executable, "-m", "swarmdex")
READY = "swarmdex: ready"
TRACKER = "swarmdex: tracker "
SITE = "swarmdex: site "
TRANSPORTS = ("http", "udp")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
TAIL = 40  # lines of output shown when something fails


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without any SWARMDEX_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDEX_")}
    env.update(extra or {})
    return env


def swarmdex(*args: str, env: Mapping[str, str] | None = None, timeout: float = 10.0,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one `swarmdex` command to completion."""
    return subprocess.run(
        [*SWARMDEX, *args],
        env=clean_env(env), capture_output=True, text=True, timeout=timeout, cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


class Serve:
    """`swarmdex serve` on the ports its flags name (0: OS-chosen), learnt from its output.

    Use it as a context manager: entering waits for `swarmdex: ready`, leaving kills whatever
    is still running. `stop()` is the orderly way out and gives the exit status.
    """

    def __init__(self, data_dir: Path | None, *flags: str, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, command: tuple[str, ...] = ("serve",)) -> None:
        """`swarmdex serve --data-dir DATA_DIR --host 127.0.0.1 FLAGS...`; with `data_dir`
        None, exactly `swarmdex COMMAND FLAGS...`. Only `env` of SWARMDEX_* reaches it."""
        prefix = [] if data_dir is None else ["--data-dir", str(data_dir), "--host", "127.0.0.1"]
        self.argv = [*SWARMDEX, *command, *prefix, *flags]
        self.lines: list[str] = []
        self.urls: dict[str, str] = {}  # transport -> announce URL
        self.site_url = ""  # the site's URL, when it has one
        self.needed_kill = False  # set by stop() when the signal was ignored
        self._ignored = ""
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            self.argv, env=clean_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True,  # its own process group: `kill` reaches any workers too
        )
        self._reader = threading.Thread(target=self._read, name="swarmdex-stdout", daemon=True)
        self._reader.start()

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
                raise AssertionError(f"no {READY!r} within {timeout:g} s\n{self.describe()}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=STOP_TIMEOUT)
                raise AssertionError(f"exited before it was ready\n{self.describe()}")
            if line.startswith(TRACKER):
                url = line.removeprefix(TRACKER).strip()
                self.urls[urlsplit(url).scheme] = url
            elif line.startswith(SITE):
                self.site_url = self.site_url or line.removeprefix(SITE).strip()
            elif line == READY:
                # A web process has a site and no tracker; the others have both trackers.
                if self.argv[len(SWARMDEX):len(SWARMDEX) + 1] == ["web"]:
                    if not self.site_url:
                        raise AssertionError(f"ready without a site URL\n{self.describe()}")
                elif not set(TRANSPORTS) <= self.urls.keys():
                    raise AssertionError(f"ready without both tracker URLs\n{self.describe()}")
                return self

    def wait_for_output(self, text: str, timeout: float = 10.0) -> str:
        """The first line of output holding `text`, waiting up to `timeout` s for it: a log
        line may be printed after the response that caused it has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (not self._reader.is_alive() and self._queue.empty()):
                raise AssertionError(f"no output line with {text!r}\n{self.describe()}")
            with contextlib.suppress(queue.Empty):  # a new line (or the end): look again
                self._queue.get(timeout=remaining)

    def __enter__(self) -> Serve:
        try:
            return self.wait_ready()
        except BaseException:
            self.kill()
            raise

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def url(self, transport: str) -> str:
        """The announce URL of the `transport` ("http" or "udp") tracker, or the site's
        URL ("site")."""
        return self.site_url if transport == "site" else self.urls[transport]

    def address(self, transport: str) -> tuple[str, int]:
        parts = urlsplit(self.url(transport))
        assert parts.hostname is not None and parts.port is not None, parts
        return parts.hostname, parts.port

    @property
    def http(self) -> tuple[str, int]:
        """The HTTP port (site and HTTP tracker, or either alone)."""
        return self.address("http" if "http" in self.urls else "site")

    @property
    def udp(self) -> tuple[str, int]:
        return self.address("udp")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig` and return the exit status. If swarmdex is still running `timeout` seconds
        later it is killed and `needed_kill` set: the status is then the kill's, never 0."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.needed_kill = True
                self._ignored = f"still running {timeout:g} s after {sig.name}"
        self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """Kill it if it is still running; once it has exited, collect the rest of its output."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):  # workers it forked, if any are left
            os.killpg(self.process.pid, signal.SIGKILL)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def describe(self) -> str:
        """The command, its state and the tail of its output."""
        code = self.process.poll()
        state = "running" if code is None else f"exited {code}"
        if self.needed_kill:
            state = f"{self._ignored}, killed"
        tail = "\n".join(self.lines[-TAIL:])
        return f"--- swarmdex ({state}): {' '.join(self.argv)}\n{tail}"
