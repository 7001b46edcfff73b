"""Which host name the printed and embedded URLs carry."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from swarmdex.node import Node, shown_host
from swarmdex.settings import Settings


@pytest.mark.parametrize("bound", ["0.0.0.0", "::"])
def test_wildcard_listeners_are_named_by_the_machine(bound: str) -> None:
    assert shown_host(bound, None) == socket.gethostname()


@pytest.mark.parametrize(("bound", "shown"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"),
                                              ("192.0.2.7", "192.0.2.7")])
def test_specific_addresses_are_shown_as_bound(bound: str, shown: str) -> None:
    assert shown_host(bound, None) == shown


@pytest.mark.parametrize("bound", ["0.0.0.0", "::", "127.0.0.1"])
def test_public_host_wins(bound: str) -> None:
    assert shown_host(bound, "tracker.example.org") == "tracker.example.org"
    assert shown_host(bound, "2001:db8::1") == "[2001:db8::1]"


def test_stop_lets_a_background_round_finish(tmp_path: Path) -> None:
    """A round in progress (a database call, say) finishes; it is not cancelled half-way."""
    async def scenario() -> list[str]:
        node = Node(Settings(data_dir=tmp_path), secret=bytes(32))
        started = asyncio.Event()
        done: list[str] = []

        async def work() -> None:
            started.set()
            await asyncio.sleep(0.05)  # the round's own work, under way when stop comes
            done.append("finished")

        node._every(0.001, work)
        await started.wait()
        await node.stop()
        return done

    assert asyncio.run(scenario()) == ["finished"]
