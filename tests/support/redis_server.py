"""A throwaway `redis-server` (Debian `redis-server`) for the tests: its own port and
directory, nothing saved to disk, stopped at the end.

The README's test command installs `redis-server`; a machine without it fails here with a
message that says so rather than skipping what CI must run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, port: int, process: subprocess.Popen[bytes], directory: Path) -> None:
        self.port = port
        self.process = process
        self.directory = directory

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server (as a lost Redis would be); `start` it again on the same port."""
        self.process.terminate()
        self.process.wait(timeout=10)

    def start(self) -> None:
        self.process = _launch(self.port, self.directory)


def _launch(port: int, directory: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run the README's test command, "
                           "which installs it (Debian package redis-server)")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while not _ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server did not start on port {port}:\n{log}")
        time.sleep(0.02)
    return process


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="swarmdex-redis-") as tmp:
        port = _free_port()
        server = RedisServer(port, _launch(port, Path(tmp)), Path(tmp))
        try:
            yield server
        finally:
            if server.process.poll() is None:
                server.process.terminate()
                try:
                    server.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()
