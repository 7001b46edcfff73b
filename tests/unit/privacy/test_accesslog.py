"""The optional access log's files, and the purge of those past retention."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from swarmdex.privacy.accesslog import AccessLog, file_day, log_dir
from swarmdex.privacy.purge import purge_access_logs

NOON = dt.datetime(2030, 1, 10, 12, 0, tzinfo=dt.UTC)


def test_lines_carry_truncated_addresses_and_no_query(tmp_path: Path) -> None:
    log = AccessLog(tmp_path)
    log.write("198.51.100.77", "GET", "/search", 200, now=NOON)
    log.write(bytes.fromhex("20010db8007700000000000000000077"), "POST", "/login\n x", 303, now=NOON)
    log.write("::ffff:203.0.113.9", "GET", "/", 200, now=NOON + dt.timedelta(days=1))
    first = (log_dir(tmp_path) / "access-2030-01-10.log").read_text().splitlines()
    assert first == ["2030-01-10T12:00:00+00:00 198.51.100.0 GET /search 200",
                     "2030-01-10T12:00:00+00:00 2001:db8:77:: POST /login__x 303"]
    second = (log_dir(tmp_path) / "access-2030-01-11.log").read_text()
    assert "203.0.113.0" in second and "203.0.113.9" not in second


def test_passkeys_in_paths_are_never_written(tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"
    log = AccessLog(tmp_path)
    log.write("198.51.100.77", "GET", f"/announce/{key}", 200, now=NOON)
    log.write("198.51.100.77", "GET", f"/scrape/{key}/more", 404, now=NOON)
    lines = (log_dir(tmp_path) / "access-2030-01-10.log").read_text().splitlines()
    assert lines == ["2030-01-10T12:00:00+00:00 198.51.100.0 GET /announce/[passkey] 200",
                     "2030-01-10T12:00:00+00:00 198.51.100.0 GET /scrape/[passkey] 404"]


def test_feed_keys_are_never_written(tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"
    log = AccessLog(tmp_path)
    for path in (f"/rss?key={key}", f"/rss/search?q=x&KEY={key}&in_files=1", f"/t/x.torrent;key={key}"):
        log.write("198.51.100.77", "GET", path, 200, now=NOON)
    lines = (log_dir(tmp_path) / "access-2030-01-10.log").read_text()
    assert key not in lines
    assert lines.count("key=[key]") + lines.count("KEY=[key]") == 3
    assert "&in_files=1" in lines


def test_file_day() -> None:
    assert file_day(Path("access-2030-01-10.log")) == dt.date(2030, 1, 10)
    for other in ("access-2030-13-10.log", "notes.txt", "access-2030-01-10.log.gz"):
        assert file_day(Path(other)) is None


def test_purge_keeps_the_retention_window(tmp_path: Path) -> None:
    directory = log_dir(tmp_path)
    directory.mkdir()
    for day in range(1, 11):
        (directory / f"access-2030-01-{day:02d}.log").write_text("x\n")
    (directory / "keep-me.txt").write_text("not a log\n")
    removed = purge_access_logs(tmp_path, 7, NOON)
    assert [p.name for p in removed] == [f"access-2030-01-{d:02d}.log" for d in (1, 2)]
    assert sorted(p.name for p in directory.iterdir())[0] == "access-2030-01-03.log"
    assert (directory / "keep-me.txt").exists()
    assert purge_access_logs(tmp_path / "nowhere", 7, NOON) == []
