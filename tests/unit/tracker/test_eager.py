"""`eager.resume`: finishing, in a Task, a coroutine the server already started by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from swarmdex.tracker.eager import resume


def start(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine up to its first suspension, the way the servers do; return what it yielded."""
    try:
        return coro.send(None)
    except StopIteration:
        raise AssertionError("finished without suspending") from None


def test_a_coroutine_that_never_waits_finishes_in_send() -> None:
    async def quick() -> int:
        return 7

    coro = quick()
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    assert done.value.value == 7


def test_resume_finishes_through_several_suspensions() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[int] = loop.create_future()
        second: asyncio.Future[int] = loop.create_future()
        trail: list[str] = []

        async def slow() -> int:
            trail.append("started")
            a = await first
            await asyncio.sleep(0)  # a bare yield to the loop in between
            b = await second
            trail.append("done")
            return a + b

        coro = slow()
        pending = start(coro)
        assert pending is first and trail == ["started"]
        task = loop.create_task(resume(coro, pending))
        await asyncio.sleep(0)
        assert not task.done()
        first.set_result(40)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not task.done()
        second.set_result(2)
        assert await task == 42
        assert trail == ["started", "done"]

    asyncio.run(scenario())


def test_errors_after_resuming_reach_the_task() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()

        async def failing() -> None:
            await gate
            raise LookupError("store went away")

        coro = failing()
        task = loop.create_task(resume(coro, start(coro)))
        gate.set_result(None)
        with pytest.raises(LookupError, match="store went away"):
            await task

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

        coro = handles()
        task = loop.create_task(resume(coro, start(coro)))
        gate.set_exception(ConnectionError("reset"))
        assert await task == "handled reset"

    asyncio.run(scenario())


def test_cancelling_the_task_cancels_the_coroutine() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        cleaned: list[bool] = []

        async def waits() -> None:
            try:
                await gate
            finally:
                cleaned.append(True)

        coro = waits()
        task = loop.create_task(resume(coro, start(coro)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled() and cleaned == [True]
        assert gate.cancelled()  # the future it waited on is cancelled, as with a plain Task

    asyncio.run(scenario())


def test_a_coroutine_may_swallow_cancellation_and_answer() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()

        async def stubborn() -> str:
            try:
                await gate
            except asyncio.CancelledError:
                return "partial answer"
            return "full answer"

        coro = stubborn()
        task = loop.create_task(resume(coro, start(coro)))
        await asyncio.sleep(0)
        task.cancel()
        assert await task == "partial answer"

    asyncio.run(scenario())
