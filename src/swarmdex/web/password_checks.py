"""Limits on password checks (logging in, changing the password, deleting the account) that
slow down guessing without letting anyone lock an account's owner out.

Counting every wrong password against the account name alone would hand a lock to anyone:
ten wrong guesses a minute from one address and the owner, with the right password, would
be refused too. So the limits are kept apart by who they can hurt:

1. Per client address (IPv6: its /64), every check, right or wrong
   (`password_checks_per_address_per_minute`): one address cannot hash passwords faster
   than this, whatever names it tries. It slows only that address.
2. Per account and address, failures only (`login_failures_per_account_address_per_hour`):
   an address that keeps guessing one account is stopped for that account, even with the
   right password, until its failures age out. The owner elsewhere does not notice.
3. Per account, failures from everywhere (`login_failures_per_account_per_hour`): past it,
   the account is being guessed at from many addresses. Then only an address with no recent
   failure on it may try, so each guessing address gets one guess until the failures age
   out, while the owner, who has not been failing, logs in as usual.

The counts are the GCRA buckets of `swarmdex.ratelimits` (the site's `limits`), keyed
by the folded account name (the same for every form, so failures on one count for all) and
the address bucket. When a limit bites, a line says which one; never the name or address.
"""

from __future__ import annotations

import logging
import math
from typing import Final

from fastapi import Request

from swarmdex.ratelimits import Rate
from swarmdex.settings import Settings
from swarmdex.web.context import SiteContext
from swarmdex.web.ratelimit import client_key, trusted_proxies

__all__ = ["PasswordCheck", "TooManyPasswordChecks", "account_key"]

log = logging.getLogger("swarmdex.logins")

_MINUTE: Final = 60.0
_HOUR: Final = 3600.0
# The limits' names.
ADDRESS: Final = "password-address"
PAIR: Final = "password-account-address"
ACCOUNT: Final = "password-account"


class TooManyPasswordChecks(Exception):
    """A password check refused by one of the limits; `seconds` to wait before trying again."""

    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.seconds = max(1, math.ceil(wait))


def account_key(folded_name: str) -> str:
    """What an account's failures are counted under: its folded name, bounded."""
    return folded_name[:64]


class PasswordCheck:
    """One password check by the request's client against the account `account`
    (`account_key`): `start` before verifying the password, `failed` after a wrong one."""

    def __init__(self, request: Request, account: str) -> None:
        ctx: SiteContext = request.app.state.ctx
        settings: Settings = ctx.settings
        self.limits = ctx.limits
        self.per_address = Rate(settings.password_checks_per_address_per_minute, _MINUTE)
        self.per_pair = Rate(settings.login_failures_per_account_address_per_hour, _HOUR)
        self.per_account = Rate(settings.login_failures_per_account_per_hour, _HOUR)
        address = client_key(request, trusted_proxies(request))
        self.address = address
        self.account = account
        raw = address if isinstance(address, bytes) else address.encode()
        self.pair = account.encode() + b"\0" + raw

    async def start(self) -> None:
        """Count this check; TooManyPasswordChecks if a limit says not now."""
        limits = self.limits
        wait = await limits.hit(ADDRESS, self.per_address, self.address)
        if wait:
            self._refuse("password checks per address", wait)
        wait = await limits.wait(PAIR, self.per_pair, self.pair)
        if wait:
            self._refuse("failed logins per account and address", wait)
        wait = await limits.wait(ACCOUNT, self.per_account, self.account)
        if wait and not await limits.is_clear(PAIR, self.per_pair, self.pair):
            self._refuse("failed logins per account (this address failed too)", wait)

    async def failed(self) -> None:
        """The password was wrong: count it for this account, here and everywhere."""
        await self.limits.hit(PAIR, self.per_pair, self.pair)
        await self.limits.hit(ACCOUNT, self.per_account, self.account)

    @staticmethod
    def _refuse(which: str, wait: float) -> None:
        log.info("password check refused: the limit on %s bit", which)
        raise TooManyPasswordChecks(wait)
