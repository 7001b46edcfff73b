"""Run a coroutine to completion right now when it never waits, and hand it to the event loop
when it does.

The memory peer store never suspends, so creating a Task per announce (a scheduling round
trip through the loop) would be pure overhead on the hot path. The servers call
`coro.send(None)` themselves: usually that finishes it at once. When it does suspend (a
networked store), `resume` wraps the half-run coroutine so a Task can finish the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def _drive(coro: Coroutine[Any, Any, T], pending: Any) -> Generator[Any, Any, T]:
    while True:
        try:
            sent = yield pending  # the Task waits on the future the coroutine was waiting on
        except BaseException as exc:  # cancellation and errors go back in
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                pending = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


async def resume(coro: Coroutine[Any, Any, T], pending: Any) -> T:
    """Finish `coro`, which already ran once and yielded `pending`."""
    return await _drive(coro, pending)


class TaskSet:
    """Tasks started for suspended requests, held until done.

    The event loop keeps only weak references to tasks; without this a task could be
    collected mid-flight. It also lets a server cancel what is left when it stops.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(
        self, coro: Coroutine[Any, Any, Any], done: Callable[[asyncio.Task[Any]], None]
    ) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(done)

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
