"""The Mobivisor proxy's settings, read on first use (only the Mobivisor function sets them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetgate.core.settings import cached, env_float, env_opt


@dataclass(frozen=True)
class MobivisorSettings:
    api_url: str  # MOBIVISOR_API_URL; empty: not configured
    api_token: str = field(repr=False)  # MOBIVISOR_API_TOKEN: the token, or the secret naming it; empty: not configured
    connect_timeout: float = 5.0  # MOBIVISOR_CONNECT_TIMEOUT
    timeout: float = 10.0  # MOBIVISOR_TIMEOUT: deadline of the whole upstream call


@cached
def get_mobivisor_settings() -> MobivisorSettings:
    return MobivisorSettings(
        api_url=env_opt("MOBIVISOR_API_URL"),
        api_token=env_opt("MOBIVISOR_API_TOKEN"),
        connect_timeout=env_float("MOBIVISOR_CONNECT_TIMEOUT", 5.0),
        timeout=env_float("MOBIVISOR_TIMEOUT", 10.0),
    )
