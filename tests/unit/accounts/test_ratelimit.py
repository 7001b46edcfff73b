"""The login and registration rate limiter: GCRA per key, bounded memory, proxy-aware keys."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.requests import Request

from swarmdex.proxies import TrustedProxies
from swarmdex.ratelimits import Rate, RateLimiter
from swarmdex.web.ratelimit import client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_attempt_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(5, 60.0), clock=clock)
    assert [limiter.hit("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.hit("a")
    assert wait == pytest.approx(12.0)  # 60 s / 5 attempts
    assert limiter.hit("b") == 0.0  # other keys are not affected
    clock.now += 11.9
    assert limiter.hit("a") > 0
    clock.now += 0.1
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") > 0


def test_refused_attempts_do_not_count() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, 10.0), clock=clock)
    limiter.hit("a")
    limiter.hit("a")
    for _ in range(100):
        assert limiter.hit("a") > 0
    clock.now += 5.0
    assert limiter.hit("a") == 0.0


def test_a_quiet_key_gets_its_whole_burst_back() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(3, 30.0), clock=clock)
    for _ in range(3):
        limiter.hit("a")
    clock.now += 30.0
    assert [limiter.hit("a") for _ in range(3)] == [0.0] * 3
    assert limiter.hit("a") > 0


def test_memory_is_bounded_by_forgetting_the_longest_unseen() -> None:
    limiter = RateLimiter(Rate(1, 60.0), max_keys=3, clock=Clock())
    for key in ("a", "b", "c", "d"):
        limiter.hit(key)
    assert len(limiter) == 3
    assert limiter.hit("a") == 0.0  # forgotten, so allowed again
    assert limiter.hit("d") > 0


def test_rates_must_allow_something() -> None:
    with pytest.raises(ValueError):
        Rate(0, 60.0)
    with pytest.raises(ValueError):
        Rate(1, 0.0)


def _request(host: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "method": "POST", "path": "/login", "headers": headers,
                    "client": (host, 4711)})


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def test_clients_are_keyed_by_address_and_ipv6_by_its_64() -> None:
    nobody = TrustedProxies()
    assert client_key(_request("192.0.2.7"), nobody) == _packed("192.0.2.7")
    assert client_key(_request("::ffff:192.0.2.7"), nobody) == _packed("192.0.2.7")
    one = client_key(_request("2001:db8:1:2::1"), nobody)
    assert one == client_key(_request("2001:db8:1:2:ffff::9"), nobody) == _packed("2001:db8:1:2::")[:8]
    assert one != client_key(_request("2001:db8:1:3::1"), nobody)
    assert client_key(_request("testclient"), nobody) == "testclient"


def test_forwarded_addresses_are_believed_only_from_trusted_proxies() -> None:
    proxy = TrustedProxies(["10.0.0.1"])
    assert client_key(_request("10.0.0.1", "198.51.100.4"), proxy) == _packed("198.51.100.4")
    assert client_key(_request("192.0.2.9", "198.51.100.4"), proxy) == _packed("192.0.2.9")


def test_looking_counts_nothing_and_a_key_clears_when_its_attempts_age_out() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, 10.0), clock=clock)
    assert limiter.is_clear("a") and limiter.wait("a") == 0.0
    limiter.hit("a")
    assert not limiter.is_clear("a") and limiter.wait("a") == 0.0  # one more is allowed
    limiter.hit("a")
    assert limiter.wait("a") == pytest.approx(5.0)
    assert limiter.wait("a") == pytest.approx(5.0)  # looking again did not count
    clock.now += 5.0
    assert limiter.wait("a") == 0.0 and not limiter.is_clear("a")
    clock.now += 5.0
    assert limiter.is_clear("a")
