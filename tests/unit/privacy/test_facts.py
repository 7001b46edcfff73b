"""The privacy page's statements follow the settings."""

from __future__ import annotations

from datetime import timedelta

from swarmdex.privacy.facts import statements
from swarmdex.settings import Settings

LIFETIME = timedelta(days=30)


def _text(settings: Settings, *, moderation: bool = True) -> dict[str, str]:
    return {s.topic: s.text for s in statements(settings, session_lifetime=LIFETIME,
                                                 moderation=moderation)}


def test_defaults_say_no_access_log() -> None:
    facts = _text(Settings())
    assert "There is no access log" in facts["Access log"]
    assert "No IP address is stored with accounts" in facts["Accounts"]
    assert "30 days" in facts["Logins"]
    # 1.5 x the 1800 s interval: 45 minutes, in memory only.
    assert "in memory only, never on disk" in facts["Tracker"]
    assert "45 minutes" in facts["Tracker"] and "30 minutes" in facts["Tracker"]
    assert "30 days after the report is resolved" in facts["Reports"]


def test_access_log_on_states_truncation_and_retention() -> None:
    facts = _text(Settings(access_log=True, access_log_retention_days=3))
    assert "/24" in facts["Access log"] and "/48" in facts["Access log"]
    assert "deleted after 3 days" in facts["Access log"]
    assert "never your full address" in facts["Access log"]


def test_follows_every_setting() -> None:
    facts = _text(Settings(interval=3600, min_interval=60, peer_ttl=7200,
                           report_contact_retention_days=1))
    assert "2 hours" in facts["Tracker"] and "1 hour" in facts["Tracker"]
    assert "1 day after" in facts["Reports"]


def test_no_reports_no_statement() -> None:
    assert "Reports" not in _text(Settings(), moderation=False)


def test_a_private_site_says_what_it_keeps_per_member_and_torrent() -> None:
    assert "Ratio" not in _text(Settings())
    ratio = _text(Settings(tracker_mode="private"))["Ratio"]
    assert "each member and each torrent" in ratio and "never their address" in ratio
    assert "until the account is deleted" in ratio
