"""A device-manager DevEUI in the estates context (a meter's link to a device): its one normal form."""

from __future__ import annotations

import re

_EUI_SEPARATORS = re.compile(r"[\s:-]")
_EUI = re.compile(r"^[0-9a-f]{16}$")


def normalize_dev_eui(value: str) -> str:
    """A device-manager DevEUI as the device manager stores it: 16 lower-case hex digits, no separators."""
    eui = _EUI_SEPARATORS.sub("", value).lower()
    if not _EUI.match(eui):
        raise ValueError("dev_eui must be 16 hexadecimal digits")
    return eui
