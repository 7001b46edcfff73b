"""Run a coroutine to completion right now when it never waits, and hand it to the event loop
when it does.

The memory peer store never suspends, so creating a Task per announce (a scheduling round
trip through the loop) would be pure overhead on the hot path. The servers call
`coro.send(None)` themselves: usually that finishes it at once. When it does suspend (a
networked store), `resume` wraps the half-run coroutine so a Task can finish the job.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
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
