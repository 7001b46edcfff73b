"""Waking nodes with PostgreSQL LISTEN/NOTIFY: a committed change reaches a node at once, not
at its next poll; a node whose listening connection is killed listens again; a node that
cannot listen polls at its full rate; SQLite only polls.

Followers here poll once a minute where notifications must do the work, so a change that
arrives within the wait arrived by a notification."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from swarmdex.db import transaction
from swarmdex.tracker import feed_wake
from swarmdex.tracker.control import FEED_CHANNEL, Listed, Withdrawn, tell
from swarmdex.tracker.feed_wake import APPLICATION_NAME
from tests.support.aio import async_test
from tests.support.databases import configured_url

from .test_feed import WAIT, Boom, commit, database, node, until

A = b"\x0a" * 20
B = b"\x0b" * 20
C = b"\x0c" * 20
SLOW: dict[str, Any] = {"poll": 60.0, "listening_poll": 60.0}  # notifications or nothing

on_postgresql = pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
pytestmark = pytest.mark.usefixtures("database_backend")


async def until_true(condition: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(WAIT):
        while not await condition():
            await asyncio.sleep(0.02)


@asynccontextmanager
async def admin() -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test's database, as an operator's psql."""
    url = configured_url()
    assert url is not None
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql")
                                       .render_as_string(hide_password=False))
    try:
        yield connection
    finally:
        await connection.close()


async def listener_pids(connection: asyncpg.Connection) -> list[int]:
    return [row["pid"] for row in await connection.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = $1", APPLICATION_NAME)]


@on_postgresql
@async_test
async def test_a_commit_notifies_once_and_a_rollback_not_at_all(tmp_path: Path) -> None:
    received: list[str] = []
    async with database(tmp_path) as (_, web), admin() as psql:
        await psql.add_listener(FEED_CHANNEL, lambda *args: received.append(args[2]))
        with pytest.raises(Boom):
            async with transaction(web) as session:
                tell(session, Listed(A, None))
                raise Boom
        await commit(web, Listed(B, None), Listed(C, None), Withdrawn(B, None))
        # Notifications come in commit order: once this one is here, a rolled back one would be.
        await until(lambda: len(received) >= 1)
        assert received == [FEED_CHANNEL]


@on_postgresql
@async_test
async def test_a_committed_change_reaches_a_listening_node_at_once(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web, **SLOW) as one:
        await until(lambda: one.follower.listening)
        for h in (A, B, C):
            await commit(web, Listed(h, None))
            await until(lambda h=h: one.serves(h))
        await commit(web, Withdrawn(A, None))
        await until(lambda: not one.serves(A))


@on_postgresql
@async_test
async def test_a_node_whose_connection_is_killed_listens_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "swarmdex.tracker")
    async with database(tmp_path) as (_, web), admin() as psql, node(web, **SLOW) as one:
        await until(lambda: one.follower.listening)
        [killed] = await listener_pids(psql)
        await psql.execute("SELECT pg_terminate_backend($1)", killed)
        # Committed while the node may not be listening: the reconnect reads it.
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))

        async def listening_again() -> bool:
            pids = await listener_pids(psql)
            return len(pids) == 1 and pids[0] != killed and one.follower.listening

        await until_true(listening_again)
        await commit(web, Listed(B, None))
        await until(lambda: one.serves(B))
        assert caplog.text.count("not listening for changes") == 1
        assert caplog.text.count("listening for changes again") == 1


@on_postgresql
@async_test
async def test_a_node_that_cannot_listen_polls_at_its_full_rate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The listening connection goes to a port that hangs up on every connection (a proxy
    # that refuses it); the node's reads go to the database as before.
    attempts = 0

    def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.close()

    refusing = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = refusing.sockets[0].getsockname()[1]
    create = feed_wake.create_async_engine

    def elsewhere(url: Any, **options: Any) -> Any:
        return create(url.set(host="127.0.0.1", port=port), **options)

    monkeypatch.setattr(feed_wake, "create_async_engine", elsewhere)
    monkeypatch.setattr(feed_wake, "RETRY_FIRST", 0.01)
    monkeypatch.setattr(feed_wake, "RETRY_MAX", 0.05)
    try:
        async with database(tmp_path) as (_, web), node(
                web, poll=0.02, listening_poll=60.0) as one:
            await until(lambda: attempts >= 3)
            assert not one.follower.listening
            await commit(web, Listed(A, None))
            await until(lambda: one.serves(A))
            assert caplog.text.count("not listening for changes") == 1  # not once per retry
    finally:
        refusing.close()
        await refusing.wait_closed()


@on_postgresql
@async_test
async def test_stop_closes_the_listening_connection(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), admin() as psql:
        async with node(web, **SLOW) as one:
            await until(lambda: one.follower.listening)
            assert len(await listener_pids(psql)) == 1
        assert asyncio.all_tasks() == {asyncio.current_task()}

        async def closed() -> bool:  # the server sees the hang-up a moment later
            return not await listener_pids(psql)

        await until_true(closed)


@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
@async_test
async def test_on_sqlite_a_node_only_polls(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web, poll=0.02, listening_poll=60.0) as one:
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))
        assert not one.follower.listening
        assert one.follower._waker is None  # nothing to listen to
