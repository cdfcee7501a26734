"""Hashing of secrets people choose (passwords, PINs): argon2id, one policy for every context.

argon2id at OWASP's recommended minimum (19 MiB, t=2, p=1): about 25 ms here, not the 1-2 s that the
library's default costs on a small Lambda. argon2 is imported on first use (it is not needed at cold start
by routes that never hash).
"""

from __future__ import annotations

from typing import Any

from fleetgate.core.settings import cached


@cached
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cached
def _dummy_hash() -> str:
    return _hasher().hash("fleetgate-timing-equaliser")


def hash_secret(secret: str) -> str:
    return _hasher().hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``secret_hash``. With no hash (an unknown account), a check of the same cost
    runs against a dummy hash and fails, so a missing account and a wrong secret take the same time."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(secret_hash or _dummy_hash(), secret)) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(secret_hash: str) -> bool:
    """Whether a stored hash was made under older parameters (rehash it after a successful check)."""
    return bool(_hasher().check_needs_rehash(secret_hash))
