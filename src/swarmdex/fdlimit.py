"""The open files a process may hold, and the HTTP connection cap that fits in them.

Every connection holds a file descriptor, and so do the database, the UDP sockets, logs and
uploads being read. Many systems start processes with a soft limit of 1024 files though the
hard limit allows far more, and past the limit everything fails at once (the database
cannot open a file, the site answers 500, the tracker stops accepting). So the process
raises its soft limit to the hard one at start, says what it got, and caps HTTP connections
below it, keeping `http_fd_reserve` descriptors for everything else.
"""

from __future__ import annotations

import logging
import resource
from typing import Final

from swarmdex.settings import Settings
from swarmdex.tracker.connlimits import HttpLimits

log = logging.getLogger(__name__)

# Linux refuses a soft limit above fs.nr_open (2^20 by default) even when the hard limit
# is "unlimited"; try no higher than that then.
UNLIMITED_TARGET: Final = 1 << 20
MIN_CONNECTIONS: Final = 16  # a cap this low still serves a few clients at a time


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft limit of open files as far as the hard limit allows; return the soft
    limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("open files: soft limit left at %d (could not raise it to %d: %s)",
                    soft, target, exc)
        return soft, soft
    return soft, target


def http_limits(settings: Settings) -> HttpLimits:
    """The HTTP port's limits from `settings`, its connection cap fitted to the open files
    limit (raised first)."""
    before, now = raise_open_files_limit()
    fitting = max(now - settings.http_fd_reserve, MIN_CONNECTIONS)
    cap = min(settings.http_max_connections or fitting, fitting)
    raised = f"raised from {before} to {now}" if now > before else f"{now}"
    log.info("open files: soft limit %s; HTTP connections capped at %d (%d files kept for "
             "the database, UDP and uploads)", raised, cap, settings.http_fd_reserve)
    if now - settings.http_fd_reserve < MIN_CONNECTIONS:
        log.warning("open files: a limit of %d leaves little room for connections; raise the "
                    "hard limit (ulimit -Hn, LimitNOFILE= in systemd)", now)
    return HttpLimits(
        max_connections=cap,
        per_address=settings.http_connections_per_address,
        head_timeout=settings.http_head_timeout,
        body_grace=settings.http_body_grace,
        body_min_rate=settings.http_body_min_rate,
    )
