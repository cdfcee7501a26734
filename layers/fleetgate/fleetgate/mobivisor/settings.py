"""The Mobivisor proxy's settings, read on first use (only the Mobivisor function sets them)."""

from typing import NamedTuple

from fleetgate.core.settings import cached, env_float, env_opt, repr_without


class MobivisorSettings(NamedTuple):
    """A settings record: a NamedTuple whose repr leaves secrets out (see fleetgate.core.settings)."""

    api_url: str  # MOBIVISOR_API_URL; empty: not configured
    api_token: str  # MOBIVISOR_API_TOKEN: the token, or the secret naming it; empty: not configured; never in the repr
    connect_timeout: float = 5.0  # MOBIVISOR_CONNECT_TIMEOUT
    timeout: float = 10.0  # MOBIVISOR_TIMEOUT: deadline of the whole upstream call

    def __repr__(self) -> str:
        return repr_without(self, "api_token")


@cached
def get_mobivisor_settings() -> MobivisorSettings:
    return MobivisorSettings(
        api_url=env_opt("MOBIVISOR_API_URL"),
        api_token=env_opt("MOBIVISOR_API_TOKEN"),
        connect_timeout=env_float("MOBIVISOR_CONNECT_TIMEOUT", 5.0),
        timeout=env_float("MOBIVISOR_TIMEOUT", 10.0),
    )
