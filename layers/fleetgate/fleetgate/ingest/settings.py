"""Ingest's settings, read on first use only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fleetgate.core.settings import cached, env_int, plain_or_arn


@dataclass(frozen=True)
class IngestSettings:
    dedup_hours: int  # how long a deduplicationId is remembered
    _key_secret: str | None = field(default=None, repr=False)
    _key_secret_arn: str | None = field(default=None, repr=False)

    @property
    def key_secret(self) -> str:
        """The key of the ingest API keys' HMAC (keys are stored as HMAC-SHA256 of the key under it)."""
        return plain_or_arn(self._key_secret, self._key_secret_arn, "INGEST_KEY_SECRET")


@cached
def get_ingest_settings() -> IngestSettings:
    return IngestSettings(
        dedup_hours=max(1, env_int("INGEST_DEDUP_HOURS", 24)),
        _key_secret=os.environ.get("INGEST_KEY_SECRET") or None,
        _key_secret_arn=os.environ.get("INGEST_KEY_SECRET_ARN") or None,
    )
