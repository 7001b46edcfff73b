"""Hand memory the process has freed back to the operating system.

A long-running server frees as much as it allocates, but glibc keeps freed pages inside its
heaps (one per thread that allocated: the event loop's, each database connection's) for
reuse, so the resident size creeps up over hours with nothing live behind it. `malloc_trim`
returns the free pages of every heap; it costs a few milliseconds, so it runs with the
periodic expiry sweep, not per request. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
