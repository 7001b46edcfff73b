"""One pipelined Redis connection for the announce path: every command issued during one turn
of the event loop goes out in one write, and replies are matched to callers in order.

Why not redis-py for this: its asyncio client checks a connection out of a pool, writes and
reads for every command, and spent about 250 µs of CPU per announce script here (about 110 µs
with its pipelines), several times what the tracker spends on the rest of an announce. This
module does only what the hot path needs: RESP2 commands out (`pack`), replies parsed by
`hiredis` (the maintained C parser redis-py itself uses when installed), EVALSHA with the
script loaded again after NOSCRIPT (a restarted Redis has forgotten it). Everything else the
Redis store does (expiry, statistics, counters) stays on redis-py.

A connection lost or a reply later than `timeout` fails every command waiting on it with
ConnectionError or TimeoutError (both OSError, as redis-py's are treated); the next command
connects again. Replies come in order, so the oldest command waiting is the first to be late:
one timer per connection watches it, rather than a timeout (a Task, in asyncio) per command.
Commands need no Task of their own either: a caller awaits a bare future, so a server that
drives coroutines itself (`swarmdex.tracker.eager`) pays for nothing it does not use.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import time
from collections.abc import Sequence
from typing import Any, Final, cast

import hiredis
from redis.connection import parse_url

__all__ = ["Batched", "RespPipeline", "ScriptError", "pack"]

Arg = bytes | str | int

CONNECT_TIMEOUT: Final = 5.0
# Error replies that mean "not now" (loading its data, a script running too long, a replica
# cut off), which callers treat as Redis not answering, as redis-py does.
_NOT_NOW: Final = ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


_BULK: Final = tuple(b"$%d\r\n" % n for n in range(64))  # bulk string headers, by length


class ScriptError(Exception):
    """Redis answered a command with an error (other than NOSCRIPT, which is handled)."""


def pack(args: Sequence[Arg]) -> bytes:
    """One command in RESP2: an array of bulk strings (str as UTF-8, numbers in decimal)."""
    return hiredis.pack_command(tuple(args))  # type: ignore[arg-type,no-any-return]  # its stub wants a 1-tuple


class _Protocol(asyncio.Protocol):
    def __init__(self, lost: asyncio.Future[None], timeout: float) -> None:
        self.reader = hiredis.Reader()
        # Callers' futures with the time each command was sent, oldest first.
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost = lost
        self.timeout = timeout
        self._out: list[bytes] = []  # commands of this loop turn, written together
        self._watch: asyncio.TimerHandle | None = None

    def send(self, command: bytes, waiter: asyncio.Future[Any]) -> None:
        if self.lost.done() or self.transport is None or self.transport.is_closing():
            waiter.set_exception(ConnectionError("connection to Redis lost"))
            return
        self.waiting.append((waiter, time.monotonic()))
        if not self._out:
            loop = asyncio.get_running_loop()
            loop.call_soon(self._flush)
            if self._watch is None:
                self._watch = loop.call_later(self.timeout, self._check_late)
        self._out.append(command)

    def _check_late(self) -> None:
        """Fail everything if the oldest command has waited past the timeout, else look
        again when it would be late."""
        self._watch = None
        if not self.waiting:
            return
        late = self.waiting[0][1] + self.timeout - time.monotonic()
        if late > 0:
            self._watch = asyncio.get_running_loop().call_later(late, self._check_late)
            return
        # A reply still to come would answer the wrong caller: this connection is done.
        self._fail(TimeoutError(f"Redis did not answer within {self.timeout:g} s"))
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        data, self._out = b"".join(self._out), []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        # else connection_lost has failed (or will fail) every waiter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:
                continue  # a reply nobody waits for cannot happen; never fail on it
            waiter = self.waiting.popleft()[0]
            if not waiter.done():  # its caller may have given up (cancellation)
                waiter.set_result(reply)

    def _fail(self, error: Exception) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()[0]
            if not waiter.done():
                waiter.set_exception(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}"))
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if not self.lost.done():
            self.lost.set_result(None)


class RespPipeline:
    """Commands to one Redis over one connection, batched per event-loop turn."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None,
                 db: int = 0, username: str | None = None, password: str | None = None,
                 timeout: float = 5.0) -> None:
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password = username, password
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._scripts: dict[bytes, bytes] = {}  # sha1 hex -> source

    @classmethod
    def from_url(cls, url: str, *, timeout: float) -> RespPipeline | None:
        """A pipeline to the Redis at `url` (redis:// or unix://), or None for a URL it does
        not serve (TLS: rediss://), which then stays on redis-py."""
        options = parse_url(url)  # type: ignore[no-untyped-call]
        if "connection_class" in options and "path" not in options:
            return None
        return cls(host=options.get("host", "127.0.0.1"), port=options.get("port", 6379),
                   path=options.get("path"), db=int(options.get("db") or 0),
                   username=options.get("username"), password=options.get("password"),
                   timeout=timeout)

    def script(self, source: str) -> bytes:
        """Register a Lua script; its SHA-1, for `evalsha`."""
        sha = hashlib.sha1(source.encode()).hexdigest().encode()
        self._scripts[sha] = source.encode()
        return sha

    async def evalsha(self, sha: bytes, args: Sequence[Arg]) -> Any:
        """Run a registered script with no keys and `args`; its reply. ScriptError for an
        error reply, OSError when Redis does not answer."""
        return await self._evalsha(sha, pack((b"EVALSHA", sha, 0, *args)))

    def batched(self, sha: bytes, before: Sequence[Arg], group: int, *,
                limit: int = 256) -> Batched:
        """Calls of a registered script that takes `before`, then `group` arguments per call,
        and answers one element per call; each loop turn's calls (at most `limit` at once)
        go as one command."""
        return Batched(self, sha, before, group, limit)

    async def _evalsha(self, sha: bytes, command: bytes) -> Any:
        reply = await self._send(command)
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            await self._call((b"SCRIPT", b"LOAD", self._scripts[sha]))
            reply = await self._send(command)
        if isinstance(reply, hiredis.ReplyError):
            if str(reply).startswith(_NOT_NOW):
                raise ConnectionError(f"Redis cannot answer now: {reply}")
            raise ScriptError(str(reply))
        return reply

    async def _call(self, command: Sequence[Arg]) -> Any:
        return await self._send(pack(command))

    async def _send(self, command: bytes) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost.done():  # (`_forget` runs a loop turn later)
            protocol = await self._connect()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.send(command, waiter)
        return await waiter  # the protocol's timer fails it if Redis is late

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()
        if self.path is not None:
            opening = loop.create_unix_connection(lambda: _Protocol(lost, self.timeout), self.path)
        else:
            opening = loop.create_connection(lambda: _Protocol(lost, self.timeout), self.host,
                                                self.port)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, protocol = await opening
        self._protocol = protocol
        lost.add_done_callback(lambda _: self._forget(protocol))
        try:
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                self._check(await self._call((b"AUTH", *auth)))
            if self.db:
                self._check(await self._call((b"SELECT", self.db)))
        except BaseException:
            self._drop(protocol)
            raise
        return protocol

    @staticmethod
    def _check(reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            raise ConnectionError(f"Redis refused the connection: {reply}")

    def _forget(self, protocol: _Protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None

    def _drop(self, protocol: _Protocol) -> None:
        self._forget(protocol)
        if protocol.transport is not None:
            protocol.transport.abort()  # connection_lost fails whatever still waits

    async def close(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            self._forget(protocol)
            protocol.transport.close()
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(1.0):
                    await protocol.lost


class Batched:
    """Calls of one registered script gathered into one EVALSHA per event-loop turn (see
    `RespPipeline.batched`).

    The script takes its fixed arguments (`before`), then `group` arguments per call, and
    answers an array with one element per call, in order. Each call gets its own element;
    an error of the whole command (Redis away, late, a script error) is every call's error.
    Packing every argument of an announce cost about 6 µs even in hiredis's C; the fixed
    ones (command, SHA-1, key prefix, limits) are packed once here, and a batch of n calls is
    one command, one reply and one script run in Redis rather than n.
    """

    def __init__(self, pipeline: RespPipeline, sha: bytes, before: Sequence[Arg], group: int,
                 limit: int) -> None:
        self._pipeline, self._sha, self._group, self._limit = pipeline, sha, group, limit
        self._fixed = 3 + len(before)
        whole = pack((b"EVALSHA", sha, 0, *before))
        self._head = whole[whole.index(b"\n") + 1:]  # without the array length: it varies
        self._parts: list[bytes] = []
        self._waiters: list[asyncio.Future[Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()  # batches in flight (the loop holds weak refs)

    def __call__(self, *values: bytes) -> asyncio.Future[Any]:
        """This call's element of the script's reply, once the batch is answered."""
        if len(values) != self._group:
            raise TypeError(f"{self._group} arguments expected, got {len(values)}")
        loop = asyncio.get_running_loop()
        if not self._waiters:
            loop.call_soon(self._send)
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(waiter)
        parts = self._parts
        for value in values:  # (bytes % formatting costs several times this)
            n = len(value)
            parts += (_BULK[n] if n < len(_BULK) else b"$%d\r\n" % n, value, b"\r\n")
        if len(self._waiters) >= self._limit:
            self._send()  # a script runs alone in Redis: bound how long one batch holds it
        return waiter

    def _send(self) -> None:
        waiters, parts = self._waiters, self._parts
        if not waiters:
            return
        self._waiters, self._parts = [], []
        command = b"".join([b"*%d\r\n" % (self._fixed + self._group * len(waiters)),
                            self._head, *parts])
        task = asyncio.get_running_loop().create_task(self._pipeline._evalsha(self._sha, command))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._deliver, waiters))

    def _deliver(self, waiters: list[asyncio.Future[Any]], task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            for waiter in waiters:
                waiter.cancel()
            return
        error = task.exception()
        if error is None:
            replies = task.result()
            if not isinstance(replies, list) or len(replies) != len(waiters):
                error = ScriptError(f"a batch of {len(waiters)} calls got {replies!r}")
            else:
                for waiter, reply in zip(waiters, replies, strict=True):
                    if not waiter.done():  # its caller may have given up
                        waiter.set_result(reply)
                return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)
