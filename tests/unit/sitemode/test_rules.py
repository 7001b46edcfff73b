"""What each site mode closes."""

from __future__ import annotations

import pytest

from swarmdex.sitemode.rules import (
    CLOSED_DEFAULT,
    TRACKER_NOTICE_MAX,
    ModeError,
    check_level,
    check_mode,
    check_notice,
    closed_feature,
    tracker_notice,
)

READS = [("GET", "/"), ("GET", "/browse"), ("GET", "/search"), ("GET", "/t/" + "ab" * 20),
         ("GET", "/t/" + "ab" * 20 + ".torrent"), ("GET", "/news"), ("GET", "/rss"),
         ("GET", "/api/v1/torrents"), ("GET", "/privacy"), ("POST", "/login"),
         ("POST", "/logout"), ("GET", "/account"), ("GET", "/admin/reports"),
         ("GET", "/account/export")]
WRITES = [("GET", "/upload", "Uploads"), ("POST", "/upload", "Uploads"),
          ("POST", "/api/v1/torrents", "Uploads"), ("GET", "/register", "Registration"),
          ("POST", "/register", "Registration"),
          ("POST", "/t/" + "ab" * 20 + "/comments", "Comments"),
          ("POST", "/comments/12/edit", "Comments"),
          ("POST", "/news/3-hello/comments", "Comments"),
          ("POST", "/news/comments/4/edit", "Comments"),
          ("POST", "/t/" + "ab" * 20 + "/report", "Reports"),
          ("GET", "/comments/7/report", "Reports"), ("POST", "/comments/7/report", "Reports")]


@pytest.mark.parametrize(("method", "path"), READS + [(m, p) for m, p, _ in WRITES])
def test_open_closes_nothing(method: str, path: str) -> None:
    assert closed_feature("open", method, path) is None


@pytest.mark.parametrize(("method", "path"), READS)
def test_read_only_keeps_reading(method: str, path: str) -> None:
    assert closed_feature("read-only", method, path) is None


@pytest.mark.parametrize(("method", "path", "feature"), WRITES)
def test_read_only_closes_writes(method: str, path: str, feature: str) -> None:
    assert closed_feature("read-only", method, path) == feature


@pytest.mark.parametrize(("method", "path"), READS[:-5] + [(m, p) for m, p, _ in WRITES])
def test_closed_closes_everything(method: str, path: str) -> None:
    assert closed_feature("closed", method, path) == "This site"


@pytest.mark.parametrize("path", ["/static/site.css", "/login", "/logout", "/admin",
                                  "/admin/mode", "/admin/audit"])
def test_closed_lets_staff_reopen(path: str) -> None:
    assert closed_feature("closed", "POST", path) is None
    assert closed_feature("closed", "GET", path) is None


def test_lookalikes_are_not_exempt() -> None:
    assert closed_feature("closed", "GET", "/administrator") == "This site"
    assert closed_feature("closed", "GET", "/login/other") == "This site"


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
