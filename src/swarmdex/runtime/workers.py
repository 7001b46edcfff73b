"""`swarmdex web --workers N`: N processes serving one port, started and stopped together.

The parent forks the workers before any event loop or thread exists, then only waits:
SIGTERM or SIGINT is passed on to every worker, and a worker that ends by itself (a crash,
a database that went away at start) stops the others, so a service manager sees one
failure and restarts the whole set. Each worker listens with SO_REUSEPORT; the kernel
spreads new connections over them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import traceback
from collections.abc import Callable

__all__ = ["run_workers"]

PR_SET_PDEATHSIG = 1  # prctl(2)


def _end_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when its parent dies (even by SIGKILL), so no
    worker outlives the set."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_workers(count: int, work: Callable[[int], None]) -> int:
    """Run `work(index)` in `count` forked processes; return the exit status for the
    parent: 0 when they all stopped cleanly on a signal, else the first failure's."""
    children: dict[int, int] = {}
    for index in range(count):
        pid = os.fork()
        if pid == 0:  # the worker: run, then leave without the parent's clean-up
            _end_with_parent()
            code = 0
            try:
                work(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    status = 0
    while children:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        code = os.waitstatus_to_exitcode(raw)
        if not stopping:  # a worker ended by itself: the set goes down with it
            print(f"swarmdex: web worker {index} ended (status {code}); stopping the others",
                  file=sys.stderr, flush=True)
            status = code or 1
            stop_all()
        elif code and not status:
            status = code
    return status
