"""Reading uploaded .torrent files in a child process, under a CPU budget.

Decoding, validating and hashing a .torrent is pure Python and costs time in proportion
to the file (a 10 MB file of tiny list items takes seconds). Done on the event loop it
would stall everything else the process serves, the UDP and HTTP trackers above all;
done in a thread it still would, since pure Python holds the GIL. So it runs in one child
process, started on first use and kept:

- each parse gets `cpu_seconds` of CPU time, enforced inside the child by a profiling
  timer (ITIMER_PROF) whose signal aborts the parse: the upload is refused with a clear
  message and the child stays ready for the next one;
- a child that has not answered well after that (stuck outside Python, or starved of CPU)
  is killed and a new one started for the next upload;
- uploads are parsed one at a time, in the order they arrived; one stuck upload delays
  the others by at most the wall-clock bound.

What comes back is small and cheap to rebuild on the loop: the hashes, the info
dictionary's bytes, the file list as one string of paths and one array of sizes (a few
milliseconds to unpickle even for 100,000 files, not a tree of objects), and the search
index's text for the files, tokenized here rather than on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Final

from swarmdex.bittorrent.metainfo import MetainfoError, parse_torrent
from swarmdex.search.services import MAX_INDEXED_FILES
from swarmdex.search.tokenize import paths_token_text
from swarmdex.settings import Settings
from swarmdex.torrents.fields import UploadError, UploadTooLarge
from swarmdex.torrents.filetree import stored_files

__all__ = [
    "ParseLimits",
    "ParseWorker",
    "ParsedTorrent",
    "check_size",
    "default_limits",
    "parse_limits",
    "parse_upload",
    "worker",
]

log = logging.getLogger("swarmdex.uploads")

# Stored paths are joined with this; names never contain control characters (the
# metainfo parser refuses them), so it cannot occur inside a path.
_SEPARATOR: Final = "\n"
# A child that has not answered after its CPU budget times this (plus the slack) is stuck
# or starved, not merely busy: it is killed and replaced.
_WALL_FACTOR: Final = 6.0
_WALL_SLACK: Final = 10.0
_START_METHOD: Final = "spawn"  # the server has threads: forking it is not safe
# Seconds a new child may take to start (imports on a busy machine), apart from any budget.
_START_TIMEOUT: Final = 60.0
_READY: Final = "ready"
_NICENESS: Final = 10


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one parse may take and produce (from the "uploads" settings)."""

    max_size: int
    max_files: int
    max_path_depth: int
    max_path_chars: int
    cpu_seconds: float

    @property
    def wall_seconds(self) -> float:
        return self.cpu_seconds * _WALL_FACTOR + _WALL_SLACK


@dataclass(frozen=True, slots=True)
class ParsedTorrent:
    """A validated upload, as the database stores it."""

    info_hash_v1: bytes | None
    info_hash_v2: bytes | None
    name: str
    piece_length: int
    total_size: int
    info_bytes: bytes
    trackers: tuple[tuple[str, ...], ...]
    """The file's own trackers as BEP 12 tiers (a lone 'announce' is one tier)."""
    paths: str
    """The stored paths of the real files (pad files left out), joined by newlines."""
    sizes: bytes
    """Their sizes, an array('q') in machine order."""
    file_tokens: str
    """The search index's text for the files (`search_index.index_torrent`'s file_tokens)."""
    private: bool = False
    """`private` in the info dictionary (BEP 27): clients use only the trackers."""

    @property
    def file_count(self) -> int:
        return len(self.sizes) // array("q").itemsize

    def rows(self, chunk: int) -> Iterator[list[tuple[str, int]]]:
        """(path, size) of each file in order, `chunk` at a time."""
        sizes = array("q")
        sizes.frombytes(self.sizes)
        pairs = zip(self.paths.split(_SEPARATOR), sizes, strict=True)
        while batch := list(islice(pairs, chunk)):
            yield batch


@dataclass(frozen=True, slots=True)
class _Refusal:
    """The child's answer for a file it refused."""

    message: str
    over_budget: bool = False


class _OverBudget(BaseException):
    """Raised inside the child when the parse used up its CPU time. A BaseException so
    that no `except Exception` on the way can swallow it."""


# --------------------------------------------------------------------------- in the child


def check_size(data: bytes, limits: ParseLimits) -> None:
    """Refuse an empty or oversized file before anything reads it."""
    if len(data) > limits.max_size:
        raise UploadTooLarge(
            f"The file is {len(data):,} bytes; .torrent files may be at most "
            f"{limits.max_size:,} bytes."
        )
    if not data:
        raise UploadError("The file is empty: choose a .torrent file.")


def parse_upload(data: bytes, limits: ParseLimits) -> ParsedTorrent:
    """Parse and validate `data`; raise `UploadError` saying what is wrong. Pure: runs in
    the child, and directly in tests."""
    check_size(data, limits)
    try:
        meta = parse_torrent(
            data,
            max_size=limits.max_size,
            max_files=limits.max_files,
            max_path_depth=limits.max_path_depth,
        )
    except MetainfoError as exc:
        raise UploadError(f"This is not a usable torrent file: {exc}.") from None
    rows = stored_files(meta)
    chars = sum(len(path) for path, _ in rows)
    if chars > limits.max_path_chars:
        raise UploadError(
            f"The torrent's file names add up to {chars:,} characters; at most "
            f"{limits.max_path_chars:,} are accepted."
        )
    trackers = meta.announce_list or (((meta.announce,),) if meta.announce else ())
    return ParsedTorrent(
        info_hash_v1=meta.info_hash_v1,
        info_hash_v2=meta.info_hash_v2,
        name=meta.name,
        piece_length=meta.piece_length,
        total_size=meta.total_size,
        info_bytes=meta.info_bytes,
        trackers=trackers,
        paths=_SEPARATOR.join(path for path, _ in rows),
        sizes=array("q", (size for _, size in rows)).tobytes(),
        file_tokens=paths_token_text(path for path, _ in rows[:MAX_INDEXED_FILES]),
        private=meta.is_private,
    )


def _over_budget(signum: int, frame: FrameType | None) -> None:
    raise _OverBudget


def _serve(conn: Connection) -> None:
    """The child's loop: one (data, limits) in, one ParsedTorrent or refusal out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is the parent's to handle
    signal.signal(signal.SIGPROF, _over_budget)
    # Below the server in the scheduler: on a busy machine the trackers get the CPU first.
    os.nice(_NICENESS)
    conn.send(_READY)  # imports done: budgets count from here
    while True:
        try:
            data, limits = conn.recv()
        except EOFError:  # the server is gone
            return
        answer: ParsedTorrent | _Refusal
        try:
            signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds)
            try:
                answer = parse_upload(data, limits)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _OverBudget:
            answer = _Refusal(_over_budget_message(limits), over_budget=True)
        except UploadError as exc:
            answer = _Refusal(exc.message)
        except MemoryError:
            answer = _Refusal("This torrent file is too complex to read; it was refused.")
        del data
        conn.send(answer)


def _over_budget_message(limits: ParseLimits) -> str:
    return (
        f"This torrent file takes too long to read (over {limits.cpu_seconds:g} seconds of "
        "processing); it was refused."
    )


# --------------------------------------------------------------------------- in the server


class ParseWorker:
    """The child process and the one thread that talks to it.

    The thread blocks on the pipe (releasing the GIL), so the event loop only awaits a
    future. Uploads queue for the thread: one parse at a time. The thread is a daemon, so a
    server stopping mid-parse does not wait for it.
    """

    def __init__(self) -> None:
        self._context = multiprocessing.get_context(_START_METHOD)
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # the child: held by the thread for a whole exchange
        self._starting = threading.Lock()  # the thread: taken on the event loop, never held long

    async def parse(self, data: bytes, limits: ParseLimits) -> ParsedTorrent:
        """`parse_upload(data, limits)`, done in the child; raises `UploadError`."""
        check_size(data, limits)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ParsedTorrent] = loop.create_future()
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve_jobs, name="swarmdex-parse",
                                                daemon=True)
                self._thread.start()
        self._jobs.put((data, limits, loop, future))
        return await future

    def _serve_jobs(self) -> None:
        while True:
            data, limits, loop, future = self._jobs.get()
            if future.cancelled():  # its request went away while it waited: nobody to answer
                continue
            try:
                result: ParsedTorrent | None = self._exchange(data, limits)
                error: Exception | None = None
            except Exception as exc:  # handed to the upload awaiting it
                result, error = None, exc
            del data
            with contextlib.suppress(RuntimeError):  # that upload's event loop is gone
                loop.call_soon_threadsafe(_settle, future, result, error)

    def _exchange(self, data: bytes, limits: ParseLimits) -> ParsedTorrent:
        with self._lock:
            try:
                conn = self._connection()
                conn.send((data, limits))
                answered = conn.poll(limits.wall_seconds)
                answer = conn.recv() if answered else None
            except (EOFError, OSError):
                # The child died (out of memory, killed): the next upload gets a new one.
                log.warning("upload parser process died; starting a new one for the next upload")
                self._stop()
                raise UploadError(
                    "This torrent file could not be read; it was refused."
                ) from None
            if answer is None:
                log.warning(
                    "upload parser process gave no answer within %.0f s; replacing it",
                    limits.wall_seconds,
                )
                self._stop()
                raise UploadError(_over_budget_message(limits))
        if isinstance(answer, _Refusal):
            if answer.over_budget:
                log.info("an upload used up its %g s parse budget and was refused",
                         limits.cpu_seconds)
            raise UploadError(answer.message)
        assert isinstance(answer, ParsedTorrent)
        return answer

    def _connection(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            self._stop()
            ours, theirs = self._context.Pipe()
            process = self._context.Process(
                target=_serve, args=(theirs,), name="swarmdex-parse", daemon=True
            )
            process.start()
            theirs.close()
            self._process, self._conn = process, ours
            if not ours.poll(_START_TIMEOUT) or ours.recv() != _READY:
                self._stop()
                raise OSError("the upload parser process did not start")
        return self._conn

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._process.close()
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def close(self) -> None:
        """Stop the child (it also exits by itself when the server's end of the pipe closes)."""
        with self._lock:
            self._stop()


_Job = tuple[bytes, ParseLimits, asyncio.AbstractEventLoop, "asyncio.Future[ParsedTorrent]"]


def _settle(future: asyncio.Future[ParsedTorrent], result: ParsedTorrent | None,
            error: Exception | None) -> None:
    if future.cancelled():  # the upload's request went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


_worker: ParseWorker | None = None


def worker() -> ParseWorker:
    """This process's parse worker, made on first use."""
    global _worker  # one child per server process, shared by every site in it
    if _worker is None:
        _worker = ParseWorker()
    return _worker


def default_limits(max_size: int) -> ParseLimits:
    """The default settings' limits (whatever the environment says), with `max_size`."""
    return parse_limits(Settings.model_construct(), max_size)


def parse_limits(settings: Settings, max_size: int) -> ParseLimits:
    """The limits in `settings`, with the site's current size limit."""
    return ParseLimits(
        max_size=max_size,
        max_files=settings.upload_max_files,
        max_path_depth=settings.upload_max_path_depth,
        max_path_chars=settings.upload_max_path_chars,
        cpu_seconds=settings.upload_parse_cpu_seconds,
    )
