"""Ingest's settings, read on first use only."""

import os
from typing import NamedTuple

from fleetgate.core.settings import cached, env_int, plain_or_arn, repr_without


class IngestSettings(NamedTuple):
    """A settings record: a NamedTuple whose repr leaves secrets out (see fleetgate.core.settings)."""

    dedup_hours: int  # how long a deduplicationId is remembered
    plain_key_secret: str | None = None  # INGEST_KEY_SECRET (tests, the local cloud); never in the repr
    key_secret_arn: str | None = None  # INGEST_KEY_SECRET_ARN (a stack); never in the repr

    @property
    def key_secret(self) -> str:
        """The key of the ingest API keys' HMAC (keys are stored as HMAC-SHA256 of the key under it)."""
        return plain_or_arn(self.plain_key_secret, self.key_secret_arn, "INGEST_KEY_SECRET")

    def __repr__(self) -> str:
        return repr_without(self, "plain_key_secret", "key_secret_arn")


@cached
def get_ingest_settings() -> IngestSettings:
    return IngestSettings(
        dedup_hours=max(1, env_int("INGEST_DEDUP_HOURS", 24)),
        plain_key_secret=os.environ.get("INGEST_KEY_SECRET") or None,
        key_secret_arn=os.environ.get("INGEST_KEY_SECRET_ARN") or None,
    )
