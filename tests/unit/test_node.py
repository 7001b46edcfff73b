"""Which host name the printed and embedded URLs carry."""

from __future__ import annotations

import socket

import pytest

from swarmdex.node import shown_host


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
