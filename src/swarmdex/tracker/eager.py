"""Run a coroutine to completion right now when it never waits, and finish it from the
callbacks of what it waits on when it does.

The memory peer store never suspends, so creating a Task per announce (a scheduling round
trip through the loop) would be pure overhead on the hot path. The servers call
`coro.send(None)` themselves: usually that finishes it at once. When it does suspend (a
networked store), `Suspended.finish` takes the half-run coroutine and steps it each time the
future it waits on is done, as a Task would, but without one: a Task costs more CPU than a
whole Redis announce's own Python (its creation alone was about 14 % of a tracker node's time
under load), and these coroutines need nothing a Task adds. What they give up: they are not
`asyncio.current_task()` (code that needs one, such as redis-py's timeouts, wraps itself in a
Task: `swarmdex.peerstore.redis`), and each step runs in the context of the callback rather
than one context for the whole coroutine (nothing on these paths sets context variables).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Suspended"]


class Suspended:
    """Coroutines that suspended, each finished through a future of its own (its handle).

    `done(handle)` is called when a coroutine ends, as a Task's done callback would be: the
    handle holds its result or exception, or is cancelled. The set lets a server bound how many
    are waiting (`len`) and cancel what is left when it stops.
    """

    def __init__(self) -> None:
        # handle -> the future its coroutine waits on now (None: a bare yield to the loop)
        self._waiting: dict[asyncio.Future[Any], asyncio.Future[Any] | None] = {}
        self._cancel_next: set[asyncio.Future[Any]] = set()  # cancelled at a bare yield
        # Done callbacks, called at once rather than a loop turn later as a future's are.
        self._done: dict[asyncio.Future[Any], Callable[[asyncio.Future[Any]], None]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def finish(
        self, coro: Coroutine[Any, Any, Any], pending: Any,
        done: Callable[[asyncio.Future[Any]], None],
    ) -> None:  # fmt: skip
        """Finish `coro`, which already ran once and yielded `pending`."""
        handle: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._done[handle] = done
        self._wait(coro, handle, pending)

    def _wait(self, coro: Coroutine[Any, Any, Any], handle: asyncio.Future[Any], pending: Any) -> None:
        if pending is None:  # `await asyncio.sleep(0)`: step again on the next loop turn
            self._waiting[handle] = None
            asyncio.get_running_loop().call_soon(self._step, coro, handle, None)
        elif getattr(pending, "_asyncio_future_blocking", False):
            pending._asyncio_future_blocking = False  # as a Task does: "I am waiting on it"
            self._waiting[handle] = pending
            pending.add_done_callback(lambda _: self._step(coro, handle, None))
        else:
            self._step(coro, handle, RuntimeError(f"coroutine yielded {pending!r}, not a future"))

    def _step(self, coro: Coroutine[Any, Any, Any], handle: asyncio.Future[Any],
              error: BaseException | None) -> None:
        if error is None and handle in self._cancel_next:
            self._cancel_next.discard(handle)
            error = asyncio.CancelledError()
        try:
            pending = coro.send(None) if error is None else coro.throw(error)
        except StopIteration as stop:
            handle.set_result(stop.value)
        except asyncio.CancelledError:
            handle.cancel()
        except (KeyboardInterrupt, SystemExit) as exc:
            handle.set_exception(exc)
            self._end(handle)
            raise
        except BaseException as exc:
            handle.set_exception(exc)
        else:
            self._wait(coro, handle, pending)
            return
        self._end(handle)

    def _end(self, handle: asyncio.Future[Any]) -> None:
        self._waiting.pop(handle, None)
        self._done.pop(handle)(handle)

    async def cancel(self) -> None:
        """Cancel every coroutine where it waits (a bare yield gets the CancelledError thrown
        in on its next step) and wait until all have ended."""
        handles = list(self._waiting)
        for handle, pending in list(self._waiting.items()):
            if pending is not None:
                pending.cancel()
            else:
                self._cancel_next.add(handle)
        for handle in handles:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await handle
