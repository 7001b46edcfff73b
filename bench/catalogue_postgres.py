"""PostgreSQL for bench/site_catalogue.py (`--database postgresql`).

- `Cluster`: a PostgreSQL cluster of the bench's own, kept in the bench data dir so that
  `--reuse` starts the same one again. `initdb` and `postgres` refuse to run as root, so
  as root the cluster runs as the `postgres` account Debian's package makes. Durability is
  off (`fsync`, `synchronous_commit`, `full_page_writes`): a crash means filling again, and
  the measured pages only read.
- `records`: a generated batch as COPY rows, made in the generator processes. The search
  rows are `search.tsvector.document_vectors` of the same token texts the SQLite fill puts
  into FTS5, i.e. what `search.postgres.TsvectorBackend.index` writes for the torrent.
- `Loader`: COPY of those rows, one transaction per batch. The bulk tables' foreign keys
  and the indexes that no constraint needs (both GIN indexes of `search_documents` among
  them) are dropped first and made again from their own definitions once the rows are in,
  then VACUUM ANALYZE: an index built from all rows at once, and a foreign key checked in
  one join, take a fraction of the time of keeping them up row by row (at 20,000 torrents
  the whole fill took 16 s instead of 38 s).
- the reads of the report: sample torrents, match counts, sizes.

Nothing here imports site_catalogue: the script runs as `__main__`, and importing it by its
name would make a second copy of its classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any, Final, Protocol, TypeVar

CLUSTER_DIR: Final = "postgresql"  # in the bench data dir
DATABASE: Final = "swarmdex"
SUPERUSER: Final = "swarmdex"
START_TIMEOUT: Final = 300  # seconds; a cluster stopped hard replays its WAL first
# Off: a throwaway cluster whose contents the bench can make again. Only writes are faster.
DURABILITY_OFF: Final = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
SETTINGS: Final = (
    "listen_addresses=127.0.0.1",
    "unix_socket_directories=",  # TCP only: a socket path in a deep data dir can be too long
    "max_connections=100",
    "shared_buffers=1GB",  # PostgreSQL's 128 MB default is for small machines
    "maintenance_work_mem=1GB",  # building the GIN indexes after the load
    "max_wal_size=4GB",  # few checkpoints during the load, without gigabytes of WAL kept
    "checkpoint_timeout=30min",
    "wal_level=minimal",  # no replicas: index builds write no WAL
    "max_wal_senders=0",
    *DURABILITY_OFF,
)

T = TypeVar("T")


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message says why."""

# --------------------------------------------------------------------------- cluster


def _bin_dir() -> Path:
    found = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        raise ClusterError("PostgreSQL is not installed (Debian package postgresql)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """A PostgreSQL cluster in `directory` (data/ and log), on 127.0.0.1 and a free port."""

    def __init__(self, directory: Path, extra_settings: Sequence[str] = ()) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.log_path = directory / "log"
        self.bin = _bin_dir()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.settings = (*SETTINGS, *extra_settings)
        self.port: int | None = None

    @property
    def version(self) -> str:
        return self.bin.parent.name

    @property
    def exists(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def dsn(self, database: str = DATABASE) -> str:
        assert self.port is not None, "the cluster is not started"
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def url(self) -> str:
        """The SQLAlchemy URL swarmdex takes (`--database-url`)."""
        return self.dsn().replace("postgresql://", "postgresql+asyncpg://", 1)

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args, check=check)

    def init(self) -> None:
        """A new cluster with an empty database `DATABASE` (started, as `start` leaves it)."""
        self.directory.mkdir(parents=True)
        if self.user is not None:
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                raise ClusterError(f"no {self.user} account: install Debian's postgresql") from None
            shutil.chown(self.directory, self.user)
            # postgres must reach its directory through every parent.
            if self._run("test", "-x", str(self.directory), check=False).returncode:
                raise ClusterError(f"the {self.user} account cannot enter {self.directory}: "
                                   "choose a --data-dir every user may traverse")
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", SUPERUSER,
                      "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync")
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"initdb failed: {exc.stderr.strip()}") from None
        self.start()
        asyncio.run(self._create_database())

    async def _create_database(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> None:
        if self.running():  # left behind by a run that was killed
            self._pg_ctl("-m", "fast", "-w", "-t", str(START_TIMEOUT), "stop")
        self.port = _free_port()
        # pg_ctl hands these to a shell.
        options = " ".join([f"-p {self.port}", *(f"-c {shlex.quote(s)}" for s in self.settings)])
        try:
            self._pg_ctl("-l", str(self.log_path), "-w", "-t", str(START_TIMEOUT), "start",
                         "-o", options)
        except subprocess.CalledProcessError as exc:
            self.port = None
            raise ClusterError(f"PostgreSQL did not start: {exc.stderr.strip()}\n{self.tail()}") from None

    def stop(self) -> None:
        if self.port is not None or self.running():
            self._pg_ctl("-m", "fast", "-w", "-t", str(START_TIMEOUT), "stop", check=False)
        self.port = None

    def tail(self, n: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join("    | " + x for x in self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def pids(self) -> list[int]:
        """The postmaster and its children (the backends, checkpointer, autovacuum...)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The field after the parenthesised command name is the state, then the ppid.
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(stat.parent.name))
        return pids

    def pin(self, cpus: set[int]) -> int:
        """Keep the whole cluster on `cpus`; backends forked later inherit the postmaster's
        affinity. Returns how many processes were pinned."""
        pinned = 0
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(pid, cpus)
                pinned += 1
        return pinned

    def directory_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.directory):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total

    def describe(self) -> str:
        shown = [s for s in self.settings if not s.startswith(("listen_addresses", "unix_socket"))]
        return f"PostgreSQL {self.version} in {self.directory} ({', '.join(shown)})"


# --------------------------------------------------------------------------- fill

TORRENT_COLUMNS: Final = (
    "id", "info_hash_v1", "info_hash_v2", "swarm_key", "title", "name", "description",
    "category_id", "uploader_id", "anonymous", "size", "file_count", "piece_length",
    "info_dict", "original_trackers", "created_at", "deleted_at",
)
FILE_COLUMNS: Final = ("torrent_id", "position", "path", "size")
TAG_COLUMNS: Final = ("torrent_id", "tag_id")
SEARCH_COLUMNS: Final = ("torrent_id", "names", "everything")
BULK_TABLES: Final = ("torrents", "torrent_files", "torrent_tags", "search_documents")


class GeneratedBatch(Protocol):
    """site_catalogue.Batch: rows as dicts keyed by column, search rows as FTS5 token texts."""

    torrents: list[dict[str, Any]]
    files: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    index: list[dict[str, Any]]


@dataclass(slots=True)
class Records:
    torrents: list[tuple[Any, ...]] = field(default_factory=list)
    files: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    index: list[tuple[int, str, str]] = field(default_factory=list)  # (torrent_id, names, everything)


def json_text(value: object) -> str:
    # SQLAlchemy's JSON type on asyncpg sends json.dumps(value); a `json` column keeps that
    # text as it is.
    return json.dumps(value)


def search_vectors(row: dict[str, Any]) -> tuple[str, str]:
    """(names, everything) of a generated search row, as `TsvectorBackend.index` makes them
    from the same token texts."""
    from swarmdex.search.tsvector import document_vectors

    return document_vectors(row["title"], row["name"], row["tags"], row["files"])


def records(batch: GeneratedBatch) -> Records:
    out = Records()
    for row in batch.torrents:
        out.torrents.append(tuple(json_text(row[c]) if c == "original_trackers" else row[c]
                                  for c in TORRENT_COLUMNS))
    out.files = [tuple(row[c] for c in FILE_COLUMNS) for row in batch.files]
    out.tags = [tuple(row[c] for c in TAG_COLUMNS) for row in batch.tags]
    out.index = [(row["rowid"], *search_vectors(row)) for row in batch.index]
    return out


_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _search_copy_text(rows: Sequence[tuple[int, str, str]]) -> bytes:
    """COPY's text format: asyncpg's binary COPY has no tsvector encoder, and in text the
    server reads each vector with the tsvector input function, as the site's CAST does."""
    return "".join(f"{torrent_id}\t{names.translate(_COPY_ESCAPES)}\t{everything.translate(_COPY_ESCAPES)}\n"
                   for torrent_id, names, everything in rows).encode()


class Loader:
    """COPY batches of `Records` into the migrated database at `dsn`.

    Use as a context manager; `finish` puts back what was set aside for the load and
    analyzes."""

    def __init__(self, dsn: str, parallel: int) -> None:
        self.dsn, self.parallel = dsn, max(1, parallel)
        self.runner: asyncio.Runner | None = None
        self.conn: Any = None
        self.indexes: list[tuple[str, str]] = []  # (name, its CREATE INDEX statement)
        self.foreign_keys: list[tuple[str, str, str]] = []  # (table, name, its definition)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self.runner is not None
        return self.runner.run(coroutine)

    def __enter__(self) -> Loader:
        import asyncpg

        self.runner = asyncio.Runner()
        self.conn = self._run(asyncpg.connect(self.dsn))
        self._run(self._set_aside())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.runner is None:
            return
        with contextlib.suppress(Exception):
            self._run(self.conn.close())
        self.runner.close()
        self.runner = None

    def set_aside(self) -> list[str]:
        return [name for name, _ in self.indexes] + [name for _, name, _ in self.foreign_keys]

    async def _set_aside(self) -> None:
        """Drop the bulk tables' foreign keys and the indexes that back no constraint,
        remembering their definitions. Primary and unique keys stay, so duplicates still
        fail at once. Checked row by row, the foreign keys took more than half the COPY
        time; added back after the load, PostgreSQL checks every row in one join."""
        tables = list(BULK_TABLES)
        self.foreign_keys = [tuple(row) for row in await self.conn.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = ANY($1::regclass[]) ORDER BY 1, 2", tables)]
        self.indexes = [tuple(row) for row in await self.conn.fetch(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = ANY($1::regclass[])"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            # The GIN index of file names first: it takes longest.
            " ORDER BY i.indrelid = 'search_documents'::regclass DESC, c.relname", tables)]
        async with self.conn.transaction():
            for table, name, _ in self.foreign_keys:
                await self.conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in self.indexes:
                await self.conn.execute(f'DROP INDEX "{name}"')

    def write(self, batch: Records) -> None:
        self._run(self._write(batch))

    async def _write(self, batch: Records) -> None:
        async with self.conn.transaction():
            if batch.torrents:
                await self.conn.copy_records_to_table("torrents", records=batch.torrents,
                                                      columns=TORRENT_COLUMNS)
            if batch.files:
                await self.conn.copy_records_to_table("torrent_files", records=batch.files,
                                                      columns=FILE_COLUMNS)
            if batch.tags:
                await self.conn.copy_records_to_table("torrent_tags", records=batch.tags,
                                                      columns=TAG_COLUMNS)
            if batch.index:
                await self.conn.copy_to_table("search_documents", source=io.BytesIO(
                    _search_copy_text(batch.index)), columns=SEARCH_COLUMNS, format="text")

    def finish(self, say: Callable[[str], None]) -> dict[str, float]:
        return self._run(self._finish(say))

    async def _finish(self, say: Callable[[str], None]) -> dict[str, float]:
        import asyncpg

        started = time.monotonic()
        # Explicit ids leave the sequence where the sample uploads left it: set it past them,
        # as SQLite's AUTOINCREMENT counter is.
        await self.conn.execute("SELECT setval(pg_get_serial_sequence('torrents', 'id'),"
                                " (SELECT coalesce(max(id), 1) FROM torrents))")
        say(f"building {len(self.indexes)} indexes on {self.parallel} connections")
        pending = list(self.indexes)

        async def builder() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                while pending:
                    name, definition = pending.pop(0)
                    began = time.monotonic()
                    await conn.execute(definition)
                    say(f"  {name} in {time.monotonic() - began:.1f} s")
            finally:
                await conn.close()

        await asyncio.gather(*(builder() for _ in range(self.parallel)))
        indexed = time.monotonic()
        say(f"adding {len(self.foreign_keys)} foreign keys back (every row checked)")
        for table, name, definition in self.foreign_keys:
            await self.conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        checked = time.monotonic()
        say("VACUUM ANALYZE")
        await self.conn.execute("VACUUM ANALYZE")
        await self.conn.execute("CHECKPOINT")  # the load's WAL can be recycled
        return {"index_seconds": round(indexed - started, 1),
                "foreign_key_seconds": round(checked - indexed, 1),
                "vacuum_seconds": round(time.monotonic() - checked, 1)}


# --------------------------------------------------------------------------- check


async def search_row_difference(session: Any, torrent_id: int, ours: tuple[str, str],
                                json_ours: str) -> str | None:
    """What differs between the rows the upload service wrote for `torrent_id` and ours
    (the search vectors, the trackers' JSON text); None when nothing does."""
    from sqlalchemy import text

    row = (await session.execute(text(
        "SELECT d.names::text, d.everything::text, CAST(:names AS tsvector)::text,"
        " CAST(:everything AS tsvector)::text, t.original_trackers::text"
        " FROM search_documents d JOIN torrents t ON t.id = d.torrent_id WHERE d.torrent_id = :id"),
        {"names": ours[0], "everything": ours[1], "id": torrent_id})).one()
    if row[0] != row[2]:
        return f"names vector: site {row[0]!r:.200} != bulk {row[2]!r:.200}"
    if row[1] != row[3]:
        return f"everything vector: site {row[1]!r:.200} != bulk {row[3]!r:.200}"
    if row[4] != json_ours:
        return f"original_trackers JSON text: site {row[4]!r} != bulk {json_ours!r}"
    return None


# --------------------------------------------------------------------------- report


def sample_torrents(dsn: str, n: int, seed: int) -> list[str]:
    """As site_catalogue.sample_torrents on SQLite: the same ids drawn, the same keys."""
    import asyncpg

    async def sample() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            top = await conn.fetchval("SELECT max(id) FROM torrents")
            rng = Random(seed)
            keys: list[str] = []
            for _ in range(n * 4):  # bounded: deleted ids are skipped
                if len(keys) >= n or not top:
                    break
                key = await conn.fetchval(
                    "SELECT swarm_key FROM torrents WHERE id = $1 AND deleted_at IS NULL",
                    rng.randint(1, top))
                if key is not None:
                    keys.append(bytes(key).hex())
            return keys
        finally:
            await conn.close()

    return asyncio.run(sample())


def count_matches(dsn: str, params: dict[str, str]) -> int:
    """How many torrents `search_documents` matches for a query, capped as on SQLite."""
    import asyncpg

    from swarmdex.search.backend import MAX_RESULTS
    from swarmdex.search.query import parse
    from swarmdex.search.tsvector import tsquery

    column = "everything" if params.get("in_files") == "1" else "names"

    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM search_documents WHERE {column} @@ $1::tsquery"
                " LIMIT $2) AS matching", tsquery(parse(params["q"])), MAX_RESULTS * 100))
        finally:
            await conn.close()

    return asyncio.run(count())


def table_sizes(dsn: str) -> list[tuple[str, int]]:
    """Each table with its indexes and TOAST (pg_total_relation_size), largest first, each
    followed by its indexes (pg_relation_size)."""
    import asyncpg

    async def sizes() -> list[tuple[str, int]]:
        conn = await asyncpg.connect(dsn)
        try:
            tables = await conn.fetch(
                "SELECT c.oid, c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 3 DESC, 2")
            out: list[tuple[str, int]] = []
            for oid, name, total in tables:
                out.append((str(name), int(total)))
                for index, size in await conn.fetch(
                        "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1"
                        " ORDER BY 2 DESC, 1", oid):
                    out.append((f"  index {index}", int(size)))
            return out
        finally:
            await conn.close()

    return asyncio.run(sizes())


def database_size(dsn: str) -> int:
    import asyncpg

    async def size() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    return asyncio.run(size())

