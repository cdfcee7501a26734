"""Resident passwords: the contract's rules, and temporary passwords for new accounts. Their hashes are
:mod:`fleetgate.core.secrets`' (argon2id, the one policy of every context)."""

from __future__ import annotations

import secrets

# Letters and digits that cannot be misread when a temporary password is read out or typed from an SMS.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_DIGITS = "23456789"


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
