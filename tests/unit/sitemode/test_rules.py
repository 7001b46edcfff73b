"""What each site mode closes (read-only mode's routes: tests/functional/site/test_read_only_routes.py)."""

from __future__ import annotations

import pytest

from swarmdex.sitemode.rules import (
    CLOSED_DEFAULT,
    TRACKER_NOTICE_MAX,
    ModeError,
    check_level,
    check_mode,
    check_notice,
    closed_message,
    stays_open,
    tracker_notice,
)


@pytest.mark.parametrize("path", ["/static/site.css", "/login", "/logout", "/admin",
                                  "/admin/mode", "/admin/audit"])
def test_closed_lets_staff_reopen(path: str) -> None:
    assert stays_open(path)


@pytest.mark.parametrize("path", ["/", "/browse", "/upload", "/api/v1/torrents", "/news",
                                  "/account", "/administrator", "/login/other"])
def test_closed_closes_everything_else(path: str) -> None:
    assert not stays_open(path)


def test_refusals_name_what_is_closed() -> None:
    assert closed_message("Registration") == "Registration is closed for now: the site is read-only."
    assert closed_message("Comments") == "Comments are closed for now: the site is read-only."
    assert closed_message(None) == CLOSED_DEFAULT


def test_validation() -> None:
    assert check_mode("read-only") == "read-only"
    assert check_level("warning") == "warning"
    assert check_notice("  *Back soon*\r\n") == "*Back soon*"
    for bad in ("readonly", "", None, "OPEN"):
        with pytest.raises(ModeError):
            check_mode(bad)
    with pytest.raises(ModeError):
        check_level("error")
    with pytest.raises(ModeError):
        check_notice("x" * 2001)
    with pytest.raises(ModeError):
        check_notice(3)


def test_tracker_notice_is_one_bounded_line() -> None:
    assert tracker_notice("Moving to\n  a new  server") == "Moving to a new server"
    assert tracker_notice("  ") == CLOSED_DEFAULT
    long = tracker_notice("word " * 200)
    assert len(long) == TRACKER_NOTICE_MAX and long.endswith("…")
