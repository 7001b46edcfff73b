"""`eager.Suspended`: finishing, without a Task, a coroutine the server already started by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from swarmdex.tracker.eager import Suspended


def start(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine up to its first suspension, the way the servers do; return what it yielded."""
    try:
        return coro.send(None)
    except StopIteration:
        raise AssertionError("finished without suspending") from None


def finish(suspended: Suspended, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
    """Start `coro` by hand and hand it to `suspended`; a future done when its done callback ran."""
    called: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    suspended.finish(coro, start(coro), called.set_result)
    return called


async def outcome(called: asyncio.Future[Any]) -> Any:
    """The handle given to the done callback: result, exception or cancellation."""
    handle = await called
    assert handle.done()
    return await handle


def test_a_coroutine_that_never_waits_finishes_in_send() -> None:
    async def quick() -> int:
        return 7

    coro = quick()
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    assert done.value.value == 7


def test_finish_steps_through_several_suspensions_without_a_task() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[int] = loop.create_future()
        second: asyncio.Future[int] = loop.create_future()
        trail: list[str] = []
        tasks: list[asyncio.Task[Any] | None] = []
        suspended = Suspended()

        async def slow() -> int:
            trail.append("started")
            a = await first
            tasks.append(asyncio.current_task())
            await asyncio.sleep(0)  # a bare yield to the loop in between
            b = await second
            trail.append("done")
            return a + b

        coro = slow()
        called = finish(suspended, coro)
        assert trail == ["started"] and len(suspended) == 1
        await asyncio.sleep(0)
        assert not called.done()
        first.set_result(40)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not called.done()
        second.set_result(2)
        assert await outcome(called) == 42
        assert trail == ["started", "done"] and len(suspended) == 0
        assert tasks == [None]  # stepped by callbacks, not by a Task

    asyncio.run(scenario())


def test_errors_after_resuming_reach_the_done_callback() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()

        async def failing() -> None:
            await gate
            raise LookupError("store went away")

        called = finish(Suspended(), failing())
        gate.set_result(None)
        with pytest.raises(LookupError, match="store went away"):
            await outcome(called)

    asyncio.run(scenario())


def test_an_awaited_future_that_fails_raises_inside_the_coroutine() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[int] = loop.create_future()

        async def handles() -> str:
            try:
                await gate
            except ConnectionError as exc:
                return f"handled {exc}"
            return "no error"

        called = finish(Suspended(), handles())
        gate.set_exception(ConnectionError("reset"))
        assert await outcome(called) == "handled reset"

    asyncio.run(scenario())


def test_a_coroutine_may_wait_on_a_task() -> None:
    async def scenario() -> None:
        async def inner() -> int:
            await asyncio.sleep(0)
            return 5

        async def outer() -> int:
            return await asyncio.ensure_future(inner()) + 1

        assert await outcome(finish(Suspended(), outer())) == 6

    asyncio.run(scenario())


def test_cancel_cancels_what_each_coroutine_waits_on() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        cleaned: list[str] = []
        suspended = Suspended()

        async def waits() -> None:
            try:
                await gate
            finally:
                cleaned.append("future")

        async def yields() -> None:
            await asyncio.sleep(0)  # first step stops here (the bare yield)
            try:
                await asyncio.sleep(0)
            finally:
                cleaned.append("bare yield")

        on_future = finish(suspended, waits())
        on_yield = finish(suspended, yields())
        await asyncio.sleep(0)  # `yields` now waits at its second bare yield
        await suspended.cancel()
        assert len(suspended) == 0 and sorted(cleaned) == ["bare yield", "future"]
        assert gate.cancelled()  # the future it waited on is cancelled, as a Task does
        for called in (on_future, on_yield):
            with pytest.raises(asyncio.CancelledError):
                await outcome(called)

    asyncio.run(scenario())


def test_a_coroutine_may_swallow_cancellation_and_answer() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        suspended = Suspended()

        async def stubborn() -> str:
            try:
                await gate
            except asyncio.CancelledError:
                return "partial answer"
            return "full answer"

        called = finish(suspended, stubborn())
        await suspended.cancel()
        assert await outcome(called) == "partial answer"

    asyncio.run(scenario())


def test_yielding_something_other_than_a_future_is_an_error() -> None:
    class Odd:
        def __await__(self) -> Any:
            yield "not a future"

    async def scenario() -> None:
        async def odd() -> None:
            await Odd()

        with pytest.raises(RuntimeError, match="not a future"):
            await outcome(finish(Suspended(), odd()))

    asyncio.run(scenario())
