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


JOIN = "return table.concat(ARGV, ',')"


@async_test
async def test_a_prepared_call_sends_its_fixed_and_varying_arguments_in_order(
    redis: RedisServer,
) -> None:
    pipeline = RespPipeline(port=redis.port, timeout=5)
    join = pipeline.prepared(pipeline.script(JOIN), ["p:", 7], 3, [b"x" * 70, 9])
    long = b"y" * 100  # past the precomputed bulk headers
    try:
        assert await join(b"a", b"", long) == b",".join([b"p:", b"7", b"a", b"", long, b"x" * 70, b"9"])
        assert await pipeline._call((b"SCRIPT", b"FLUSH")) == b"OK"
        assert await join(b"b", b"c", b"d") == b"p:,7,b,c,d," + b"x" * 70 + b",9"  # loaded again
        with pytest.raises(TypeError):
            await join(b"too few")
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
