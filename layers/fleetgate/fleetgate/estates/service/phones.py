"""Phone numbers: E.164 (+27...) or national (0...) in the configured region, spaces, dashes, dots and brackets
tolerated; stored and shown as E.164."""

from __future__ import annotations

import re

from fleetgate.core.errors import DomainError
from fleetgate.estates.errors import bad_request
from fleetgate.estates.settings import get_estates_settings

_SHAPE = re.compile(r"^\+?[0-9 ()./-]{6,32}$")


def normalize(raw: str, field: str = "phone_number") -> str:
    """The number in E.164; anything that is not a valid number is 400."""
    import phonenumbers  # lazy: ~30 ms of import, only the routes that take a phone number pay it

    text = raw.strip()
    if _SHAPE.match(text) and sum(c.isdigit() for c in text) >= 6:
        try:
            parsed = phonenumbers.parse(text, get_estates_settings().phone_region)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise _invalid(field)


def _invalid(field: str) -> DomainError:
    return bad_request(
        "Invalid phone number", f"{field} must be in E.164 (+27821234567) or South African (0821234567) format", field
    )
