"""The optional access log: one file a day, DATA_DIR/logs/access-YYYY-MM-DD.log (UTC).

A line is `ISO-TIME TRUNCATED-ADDRESS METHOD PATH STATUS`: the path without its query string
(search words stay out of it) and without the passkey a tracker path may carry (tracker
requests are not logged, but a path that only decodes to one reaches the site), nor a feed
key (`key=`, private mode), should one reach the path (a `?` sent as `%3F` decodes into it),
the address truncated (`addresses.truncate_ip`) before it is formatted. Written only when the
`access_log` setting is on.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Final

from swarmdex.privacy.addresses import truncate_ip
from swarmdex.protocol.passkey import redact_passkey

__all__ = ["LOG_DIR", "AccessLog", "file_day", "log_dir", "redact"]

LOG_DIR: Final = "logs"
_NAME: Final = re.compile(r"access-(\d{4}-\d{2}-\d{2})\.log")
_UNSAFE: Final = re.compile(r"[\x00-\x20\x7f]")
# A feed key's value wherever a query-like `key=` appears (swarmdex.web.private.FEED_KEY).
_FEED_KEY: Final = re.compile(r"([?&;]key=)[^&;#]*", re.IGNORECASE)


def log_dir(data_dir: Path) -> Path:
    return data_dir / LOG_DIR


def file_day(path: Path) -> dt.date | None:
    """The day an access log file is for, from its name; None for any other file."""
    match = _NAME.fullmatch(path.name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def redact(path: str) -> str:
    """`path` with no passkey and no feed key left in it."""
    return _FEED_KEY.sub(r"\1[key]", redact_passkey(path))


class AccessLog:
    """Appends lines to the day's file. Each line is written with its own open and close:
    no file stays open, and a file the purge deleted is simply started again."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = log_dir(data_dir)

    def write(self, address: str | bytes, method: str, path: str, status: int,
              now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        self.directory.mkdir(parents=True, exist_ok=True)
        line = (f"{now.isoformat(timespec='seconds')} {truncate_ip(address)} "
                f"{_UNSAFE.sub('_', method)[:16]} {_UNSAFE.sub('_', redact(path))[:512]} "
                f"{status}\n")
        with (self.directory / f"access-{now.date().isoformat()}.log").open("a", encoding="utf-8") as f:
            f.write(line)
