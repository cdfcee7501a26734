"""Identifiers and timestamps in the shapes every API uses."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

_EUI_SEPARATORS = re.compile(r"[\s:-]")
_EUI = re.compile(r"^[0-9a-f]{16}$")


def new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` and millisecond precision; sorts as text."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utc_now())


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime: ``Z``/``z`` is UTC, and a time without a zone (or a date alone,
    meaning its midnight) is taken as UTC. Raises ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalize_dev_eui(value: str) -> str:
    """A LoRaWAN DevEUI in its one stored form: ``70:B3:D5:7E:D0:00:00:01`` and ``70b3d57ed0000001`` are the same
    EUI, kept as 16 lower-case hex digits without separators. Raises ValueError for anything else."""
    eui = _EUI_SEPARATORS.sub("", value).lower()
    if not _EUI.match(eui):
        raise ValueError("dev_eui must be 16 hexadecimal digits")
    return eui
