"""Identifiers and timestamps in the shapes every API uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


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
