"""Resident passwords: argon2id hashes, the contract's rules, and temporary passwords for new accounts."""

from __future__ import annotations

import secrets

from fleetgate.core.settings import cached

# Letters and digits that cannot be misread when a temporary password is read out or typed from an SMS.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_DIGITS = "23456789"


@cached
def _hasher():
    """argon2id at OWASP's minimum (19 MiB, t=2, p=1), as the device-manager login uses: ~25 ms here."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cached
def _dummy_hash() -> str:
    return _hasher().hash("fleetgate-estates-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (no such account) it costs the same and is False."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def meets_rules(password: str) -> bool:
    """The contract's rules: at least 8 characters, an upper-case letter, a lower-case letter and a digit."""
    return (
        len(password) >= 8
        and any(c.isupper() for c in password)
        and any(c.islower() for c in password)
        and any(c.isdigit() for c in password)
    )


def temporary() -> str:
    """8 characters: at least one upper-case letter, one lower-case letter and one digit (like ``Abc12345``)."""
    chars = [secrets.choice(_UPPER), secrets.choice(_LOWER), secrets.choice(_DIGITS)]
    chars += [secrets.choice(_UPPER + _LOWER + _DIGITS) for _ in range(5)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
