"""What the /privacy page states, derived from the live settings (so it cannot drift)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from swarmdex.privacy.addresses import IPV4_PREFIX, IPV6_PREFIX
from swarmdex.settings import Settings

__all__ = ["Statement", "statements"]


@dataclass(frozen=True, slots=True)
class Statement:
    topic: str
    text: str


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def statements(settings: Settings, *, session_lifetime: timedelta,
               moderation: bool, peers_persist: Sequence[str] = ()) -> list[Statement]:
    """Every statement of the privacy page, in order. `moderation`: whether reports (and so
    reporters' contact details) exist in this version. `peers_persist`: what of the peer
    store's own configuration writes peers to disk (a Redis with `save` or `appendonly`)."""
    out: list[Statement] = []
    if settings.access_log:
        out.append(Statement(
            "Access log",
            "Requests to the site are written to a daily access log: time, method, page "
            "address (without the search words or other query) and answer status, with your "
            f"address cut to its network (the first three parts of an IPv4 address, /{IPV4_PREFIX}; "
            f"the first three groups of an IPv6 address, /{IPV6_PREFIX}), never your full address. "
            f"Each day's file is deleted after {_days(settings.access_log_retention_days)}.",
        ))
    else:
        out.append(Statement(
            "Access log",
            "There is no access log: requests to the site are not recorded, and your IP "
            "address is not written anywhere.",
        ))
    out.append(Statement(
        "Accounts",
        "An account holds its name, a password hash, its role and when it was created. No IP "
        "address is stored with accounts, logins or anything you post.",
    ))
    out.append(Statement(
        "Logins",
        f"A login session lasts {_days(session_lifetime.days)} unless you log out or end it "
        "from your account page; expired sessions are deleted by the daily purge.",
    ))
    ttl = settings.effective_peer_ttl
    forget = (f"forgets it {_duration(ttl)} after your client's last announce (about 1.5 "
              f"announce intervals of {_duration(settings.interval)})")
    if urlsplit(settings.peer_store_url).scheme.lower() == "memory":
        tracker = ("The tracker keeps the address and port your BitTorrent client announces in "
                   f"memory only, never on disk, and {forget}, or when the server stops.")
    elif not peers_persist:
        tracker = ("The tracker keeps the address and port your BitTorrent client announces in "
                   "the memory of a Redis server that its nodes share, set up to write nothing "
                   f"to disk, and {forget}.")
    else:
        tracker = ("The tracker keeps the address and port your BitTorrent client announces in "
                   f"a Redis server that its nodes share, and {forget}. That Redis server is "
                   f"set up to save what it holds to disk ({', '.join(peers_persist)}), so "
                   "addresses may stay in its files for a while after that.")
    out.append(Statement("Tracker", tracker))
    if settings.private:
        out.append(Statement(
            "Ratio",
            "This is a private site: for each member and each torrent they announce, the "
            "tracker keeps what it credited them and what their client reported as uploaded "
            "and downloaded, their seeding time, when their client first completed the "
            "torrent, whether their last announce was as a seeder, and when they were first "
            "and last seen; never their address. These figures stay until the account is "
            "deleted (a torrent taken off the site keeps them, as they count for the "
            "ratio). The member and the site's staff see them; other members do not.",
        ))
    if moderation:
        out.append(Statement(
            "Reports",
            "Contact details left with a report are cleared "
            f"{_days(settings.report_contact_retention_days)} after the report is resolved.",
        ))
    out.append(Statement(
        "Your data",
        "Logged in, you can download everything stored about your account as JSON from "
        "/account/export, and delete your account from /account/delete.",
    ))
    return out
