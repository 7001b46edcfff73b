"""The site's rate limits through their one interface, in memory and in a real Redis: the
same answers either way, one count per key however many processes ask."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator

import pytest

from swarmdex.ratelimits import Limits, MemoryLimits, Rate, RedisLimits
from tests.support.redis_server import RedisServer, redis_server

HOURLY = Rate(3, 3600.0)  # one attempt "costs" 1200 s; three at once


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def redis_limits(server: RedisServer) -> RedisLimits:
    return RedisLimits.at(server.url, prefix=f"t{secrets.token_hex(4)}:")


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_burst_then_a_wait_per_key_and_name(backend: str, request: pytest.FixtureRequest) -> None:
    async def scenario() -> None:
        limits: Limits = (MemoryLimits() if backend == "memory"
                          else redis_limits(request.getfixturevalue("redis")))
        try:
            assert await limits.is_clear("login", HOURLY, "a")
            assert [await limits.hit("login", HOURLY, "a") for _ in range(3)] == [0.0] * 3
            refused = await limits.hit("login", HOURLY, "a")
            assert 1190 < refused <= 1200  # not counted: asking again waits as long
            assert 1190 < await limits.hit("login", HOURLY, "a") <= 1200
            assert 1190 < await limits.wait("login", HOURLY, "a") <= 1200
            assert not await limits.is_clear("login", HOURLY, "a")
            # Other keys and other limits count on their own.
            assert await limits.hit("login", HOURLY, b"\x7f\0\0\1") == 0.0
            assert await limits.hit("register", HOURLY, "a") == 0.0
            assert await limits.wait("login", HOURLY, "b") == 0.0
        finally:
            if isinstance(limits, RedisLimits):
                await limits.close()

    asyncio.run(scenario())


def test_processes_sharing_a_redis_share_the_counts(redis: RedisServer) -> None:
    async def scenario() -> None:
        prefix = f"t{secrets.token_hex(4)}:"
        one, two = (RedisLimits.at(redis.url, prefix=prefix) for _ in range(2))
        try:
            assert await one.hit("login", HOURLY, "a") == 0.0
            assert await two.hit("login", HOURLY, "a") == 0.0
            assert await one.hit("login", HOURLY, "a") == 0.0
            assert await two.hit("login", HOURLY, "a") > 0
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_a_redis_that_does_not_answer_lets_attempts_through_and_says_so_once(
    redis: RedisServer, caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        limits = RedisLimits.at(f"redis://127.0.0.1:{redis.port + 1}/0")  # nothing there
        try:
            assert [await limits.hit("login", HOURLY, "a") for _ in range(5)] == [0.0] * 5
            assert await limits.is_clear("login", HOURLY, "a")
        finally:
            await limits.close()

    asyncio.run(scenario())
    assert caplog.text.count("rate limits: Redis does not answer") == 1
    assert caplog.records[0].levelno == logging.ERROR
