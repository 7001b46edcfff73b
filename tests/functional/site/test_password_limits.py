"""Password checks are limited so that guessing is slow but nobody can lock an account's owner
out: wrong passwords from some addresses never refuse the right password from another, an
address guessing one account is stopped, and an account guessed at from many addresses gives
each of them one guess. Changing the password and deleting the account are checks too."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from swarmdex.accounts.services import user_by_name
from swarmdex.db.models import Role

from .helpers import PASSWORD, Site, async_test, post_form, running_site

ATTACKER = "203.0.113.5"
OWNER = "198.51.100.20"


async def log_in(site: Site, address: str, password: str, name: str = "root") -> httpx.Response:
    return await post_form(site.client(address), "/login", name=name, password=password)


@async_test
async def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="swarmdex.logins")
    async with running_site(tmp_path) as site:
        await site.create_user("root", role=Role.ADMIN)
        attacker = site.client(ATTACKER)
        statuses = [(await post_form(attacker, "/login", name="root", password=f"guess {n}")).status_code
                    for n in range(14)]
        assert statuses[:10] == [400] * 10 and set(statuses[10:]) == {429}
        assert "password check refused" in caplog.text
        assert ATTACKER not in caplog.text and "root" not in caplog.text
        # The right password, from that address: no further guess is checked there.
        assert (await post_form(attacker, "/login", name="root", password=PASSWORD)).status_code == 429
        # The owner, elsewhere, logs in at once.
        assert (await log_in(site, OWNER, PASSWORD)).status_code == 303


@async_test
async def test_an_account_guessed_from_many_addresses_gives_each_one_guess(tmp_path: Path) -> None:
    async with running_site(tmp_path, login_failures_per_account_per_hour=3) as site:
        await site.create_user("root", role=Role.ADMIN)
        for n in range(3):
            assert (await log_in(site, f"203.0.113.{n + 10}", "guess")).status_code == 400
        # The account's failures are used up: a new address still gets its one guess...
        assert (await log_in(site, "203.0.113.50", "guess")).status_code == 400
        # ...and no second one, right or wrong; nor do the earlier addresses.
        assert (await log_in(site, "203.0.113.50", "guess again")).status_code == 429
        assert (await log_in(site, "203.0.113.50", PASSWORD)).status_code == 429
        assert (await log_in(site, "203.0.113.10", PASSWORD)).status_code == 429
        # The owner has not been failing: in at once.
        assert (await log_in(site, OWNER, PASSWORD)).status_code == 303
        # Other accounts are not affected at all.
        await site.create_user("alice")
        assert (await log_in(site, "203.0.113.10", PASSWORD, name="alice")).status_code == 303


@async_test
async def test_password_change_and_account_deletion_are_limited_checks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="swarmdex.logins")
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        statuses = []
        for n in range(6):
            statuses.append((await post_form(alice, "/account/password", current=f"guess {n}",
                                             new="a new long passphrase", new2="a new long passphrase")
                             ).status_code)
            statuses.append((await post_form(alice, "/account/delete", password=f"guess {n}",
                                             torrents="anonymous")).status_code)
        assert statuses[:10] == [400] * 10 and set(statuses[10:]) == {429}
        # Guessing is over from here, even with the right password; the account stays.
        answer = await post_form(alice, "/account/delete", password=PASSWORD, torrents="anonymous")
        assert answer.status_code == 429 and answer.headers["retry-after"].isdigit()
        async with site.ctx.db() as session:
            assert await user_by_name(session, "alice") is not None
        assert "password check refused" in caplog.text
