"""Password hashing: argon2id, computed off the event loop with bounded memory.

Parameters are RFC 9106's second recommendation (argon2id, 64 MiB, 3 passes, 4 lanes),
about 0.1 s per hash on a small server. Stored hashes carry their own parameters, so
raising these later only needs `needs_rehash`: accounts move to the new ones as their
owners log in.

A hash takes tens of milliseconds of CPU and 64 MiB of memory. It runs in a small
dedicated thread pool (argon2 releases the GIL) so pages keep being served meanwhile,
and so that a burst of logins queues here instead of taking all the memory.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PARAMETERS", "hash_password", "needs_rehash", "verify_password", "waste_a_verify"]

log = logging.getLogger(__name__)

PARAMETERS: Final[Parameters] = profiles.RFC_9106_LOW_MEMORY
HASHING_THREADS: Final = 2

_hasher = PasswordHasher.from_parameters(PARAMETERS)
# Threads start on first use; one pool serves every event loop of the process.
_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="swarmdex-argon2")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash. A malformed stored hash matches nothing."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, stored, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        # Not a typo of the user's: the stored value is damaged. Say so to the operator.
        log.warning("a stored password hash is not a valid argon2 hash")
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False  # nothing to upgrade from: it never verifies anyway


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def waste_a_verify(password: str) -> None:
    """Take as long as checking a real password, for names that have no account: the
    answer time must not tell which names exist."""
    loop = asyncio.get_running_loop()
    decoy = await loop.run_in_executor(_pool, _decoy_hash)
    await loop.run_in_executor(_pool, _verify, decoy, password)
