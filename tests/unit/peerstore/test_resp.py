"""The announce path's pipelined Redis connection, against a real `redis-server`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from swarmdex.peerstore.resp import RespPipeline, ScriptError, pack
from tests.support.aio import async_test
from tests.support.redis_server import RedisServer, redis_server

ECHO = "return {ARGV[1], tonumber(ARGV[2]) + 1}"


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def test_commands_are_resp_arrays_of_bulk_strings() -> None:
    assert pack([b"EVALSHA", "ab", 0, b"\x00\r\n"]) == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n0\r\n$3\r\n\x00\r\n\r\n"
    )


@async_test
async def test_commands_of_one_loop_turn_share_a_write_and_keep_their_order(
    redis: RedisServer,
) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    sha = pipeline.script(ECHO)
    try:
        replies = await asyncio.gather(*(pipeline.evalsha(sha, [f"n{i}", i]) for i in range(500)))
        assert replies == [[f"n{i}".encode(), i + 1] for i in range(500)]
    finally:
        await pipeline.close()


# Fixed arguments first, then pairs: each pair answered with its own element.
PAIRS = """
local out = {}
for i = 3, #ARGV, 2 do out[#out + 1] = ARGV[1] .. ARGV[2] .. ':' .. ARGV[i] .. ARGV[i + 1] end
return out
"""


@async_test
async def test_batched_calls_of_one_loop_turn_are_one_command_and_each_gets_its_answer(
    redis: RedisServer,
) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    pairs = pipeline.batched(pipeline.script(PAIRS), ["p", 7], 2, limit=100)
    long = b"y" * 100  # past the precomputed bulk headers
    try:
        before = await pipeline._call((b"INFO", b"commandstats"))
        replies = await asyncio.gather(*(pairs(b"a%d" % i, b"") for i in range(250)),
                                       pairs(b"x", long))
        assert replies == [b"p7:a%d" % i for i in range(250)] + [b"p7:x" + long]
        after = await pipeline._call((b"INFO", b"commandstats"))
        assert evalsha_calls(after) - evalsha_calls(before) == 3  # 251 calls, at most 100 a batch
        assert await pipeline._call((b"SCRIPT", b"FLUSH")) == b"OK"
        assert await pairs(b"b", b"c") == b"p7:bc"  # loaded again
        with pytest.raises(TypeError):
            pairs(b"too few")
    finally:
        await pipeline.close()


def evalsha_calls(info: bytes) -> int:
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_evalsha:"):  # answered, not refused with NOSCRIPT
            fields = dict(f.split("=") for f in line.partition(":")[2].split(","))
            return int(fields["calls"]) - int(fields["failed_calls"])
    return 0  # none yet


@async_test
async def test_an_error_of_a_batch_is_every_call_s_error(redis: RedisServer) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    broken = pipeline.batched(pipeline.script("return redis.call('NOSUCHCOMMAND')"), [], 1)
    short = pipeline.batched(pipeline.script("return {1}"), [], 1)
    try:
        results = await asyncio.gather(broken(b"a"), broken(b"b"), return_exceptions=True)
        assert all(isinstance(r, ScriptError) for r in results)
        results = await asyncio.gather(short(b"a"), short(b"b"), return_exceptions=True)
        assert all(isinstance(r, ScriptError) and "2 calls" in str(r) for r in results)
    finally:
        await pipeline.close()


@async_test
async def test_a_forgotten_script_is_loaded_again(redis: RedisServer) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    sha = pipeline.script(ECHO)
    try:
        assert await pipeline.evalsha(sha, ["a", 1]) == [b"a", 2]
        assert await pipeline._call((b"SCRIPT", b"FLUSH")) == b"OK"  # as a restarted Redis
        assert await pipeline.evalsha(sha, ["b", 2]) == [b"b", 3]
    finally:
        await pipeline.close()


@async_test
async def test_an_error_reply_is_a_script_error_and_the_connection_goes_on(
    redis: RedisServer,
) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    broken = pipeline.script("return redis.call('NOSUCHCOMMAND')")
    fine = pipeline.script(ECHO)
    try:
        with pytest.raises(ScriptError, match=r"(?i)unknown"):
            await pipeline.evalsha(broken, [])
        assert await pipeline.evalsha(fine, ["c", 0]) == [b"c", 1]
    finally:
        await pipeline.close()


@async_test
async def test_password_and_database_from_the_url() -> None:
    with redis_server() as server:
        setup = RespPipeline(port=server.port, timeout=5)
        assert await setup._call((b"CONFIG", b"SET", b"requirepass", b"s3cret")) == b"OK"
        await setup.close()
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        pipeline = RespPipeline.from_url(url, timeout=5)
        assert pipeline is not None
        try:
            sha = pipeline.script("return redis.call('SET', 'k', ARGV[1])")
            assert await pipeline.evalsha(sha, ["v"]) == b"OK"
            wrong = RespPipeline.from_url(f"redis://:nope@127.0.0.1:{server.port}/0", timeout=5)
            assert wrong is not None
            with pytest.raises(ConnectionError, match="refused"):
                await wrong.evalsha(sha, ["v"])
            await wrong.close()
        finally:
            await pipeline.close()
    assert RespPipeline.from_url("rediss://127.0.0.1:6380/0", timeout=5) is None  # redis-py's


@async_test
async def test_a_silent_server_times_out_and_a_lost_one_fails_at_once() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        pipeline = RespPipeline(port=port, timeout=0.3)
        sha = pipeline.script(ECHO)
        with pytest.raises(TimeoutError):
            await pipeline.evalsha(sha, ["x", 1])  # accepted by the kernel, never answered
    with pytest.raises(ConnectionError):
        await pipeline.evalsha(sha, ["x", 1])  # nothing listens any more
    await pipeline.close()


@async_test
async def test_service_comes_back_with_the_server(redis: RedisServer) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    sha = pipeline.script(ECHO)
    try:
        assert await pipeline.evalsha(sha, ["before", 0]) == [b"before", 1]
        redis.stop()
        try:
            with pytest.raises(OSError):
                await pipeline.evalsha(sha, ["away", 0])
        finally:
            redis.start()
        assert await pipeline.evalsha(sha, ["after", 0]) == [b"after", 1]
    finally:
        await pipeline.close()
