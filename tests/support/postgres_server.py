"""A throwaway PostgreSQL cluster (Debian `postgresql`) for the tests: `initdb` in a temp
directory, a free port on 127.0.0.1, `fsync=off`, stopped and removed at the end.

`initdb` and `postgres` refuse to run as root, so when the tests run as root the cluster runs
as the `postgres` user the Debian package creates, in a directory that user owns. The
README's test command installs the package; a machine without it fails here with a message
that says so rather than skipping what CI must run.

Each test that wants a database gets a new one (`create_database`), copied from a template
migrated once per session, so a test costs a file copy rather than a migration.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

START_TIMEOUT = 30
SUPERUSER = "swarmdex"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _bin_dir() -> Path:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run the README's test command, which "
                           "installs it (Debian package postgresql)")
    return versions[-1]


class PostgresServer:
    def __init__(self, directory: Path, port: int, bin_dir: Path, user: str | None) -> None:
        self.directory = directory
        self.port = port
        self.bin_dir = bin_dir
        self._user = user  # the account the cluster runs as, when the tests run as root

    def url(self, database: str = "postgres", *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, command: Sequence[str], **options: object) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True,
                              **options)  # type: ignore[call-overload]

    @property
    def _data(self) -> Path:
        return self.directory / "data"

    def start(self) -> None:
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self._data), "-l",
                   str(self.directory / "log"), "-w", "-t", str(START_TIMEOUT), "start", "-o",
                   f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (as a lost PostgreSQL would be); `start` it again on the same port."""
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self._data), "-m", mode, "-w", "stop"])

    def log(self) -> str:
        try:
            return (self.directory / "log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def new_database_name(self) -> str:
        return f"t_{secrets.token_hex(6)}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise RuntimeError("the postgres account is missing: reinstall Debian's postgresql "
                               "package") from None
    directory = Path(tempfile.mkdtemp(prefix="swarmdex-pg-"))
    try:
        if user is not None:
            shutil.chown(directory, user)
        server = PostgresServer(directory, _free_port(), bin_dir, user)
        try:
            server._run([str(bin_dir / "initdb"), "-D", str(server._data), "-A", "trust",
                         "-U", SUPERUSER, "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"])
            server.start()
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{server.log()}") from None
        try:
            yield server
        finally:
            with suppress(subprocess.CalledProcessError):  # already stopped by the test
                server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
