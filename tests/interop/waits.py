"""Bounded waits that poll client state and explain themselves when they run out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Describable(Protocol):
    def describe(self) -> str: ...


def describe_all(*parties: Describable) -> Callable[[], str]:
    """What to print when a wait fails: the state of every client and of the tracker."""
    return lambda: "\n".join(party.describe() for party in parties)


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message carries what every party was doing at the time."""


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    describe: Callable[[], str],
    interval: float = 0.25,
) -> float:
    """Poll `predicate` until it holds; return the seconds it took or raise WaitTimeout."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}\n{describe()}")
        time.sleep(interval)


def holds_for(
    predicate: Callable[[], bool],
    duration: float,
    what: str,
    describe: Callable[[], str],
    interval: float = 0.5,
) -> None:
    """Poll `predicate` for `duration` seconds; fail as soon as it stops holding."""
    deadline = time.monotonic() + duration
    while True:
        if not predicate():
            raise AssertionError(f"{what} stopped holding\n{describe()}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)
