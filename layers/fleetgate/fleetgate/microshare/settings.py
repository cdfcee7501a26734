"""The Microshare ERP's settings (the upstream and the ERP adapter), read on first use."""

from typing import NamedTuple

from fleetgate.core.settings import cached, env_float, env_int, env_opt, repr_without

# Settings records: NamedTuples whose repr leaves secrets out (see fleetgate.core.settings).


class MicroshareSettings(NamedTuple):
    auth_url: str  # MICROSHARE_AUTH_URL
    api_url: str  # MICROSHARE_API_URL
    username: str  # MICROSHARE_USERNAME
    password: str  # MICROSHARE_PASSWORD (or a secret naming it); never in the repr
    api_key: str  # MICROSHARE_API_KEY: the OAuth client id (or a secret naming it); never in the repr
    cache_ttl: int = 300  # CACHE_TTL: seconds discovered clusters stay fresh
    api_timeout: float = 10.0  # API_TIMEOUT: deadline of one upstream call
    connect_timeout: float = 5.0  # MICROSHARE_CONNECT_TIMEOUT
    lease_seconds: float = 35.0  # MICROSHARE_LEASE_SECONDS: a cluster write lease outlives the function timeout
    lease_wait_seconds: float = 10.0  # MICROSHARE_LEASE_WAIT_SECONDS: how long a write waits for a busy cluster

    def __repr__(self) -> str:
        return repr_without(self, "password", "api_key")


@cached
def get_microshare_settings() -> MicroshareSettings:
    return MicroshareSettings(
        auth_url=env_opt("MICROSHARE_AUTH_URL"),
        api_url=env_opt("MICROSHARE_API_URL"),
        username=env_opt("MICROSHARE_USERNAME"),
        password=env_opt("MICROSHARE_PASSWORD"),
        api_key=env_opt("MICROSHARE_API_KEY"),
        cache_ttl=env_int("CACHE_TTL", 300),
        api_timeout=env_float("API_TIMEOUT", 10.0),
        connect_timeout=env_float("MICROSHARE_CONNECT_TIMEOUT", 5.0),
        lease_seconds=env_float("MICROSHARE_LEASE_SECONDS", 35.0),
        lease_wait_seconds=env_float("MICROSHARE_LEASE_WAIT_SECONDS", 10.0),
    )


class ErpSettings(NamedTuple):
    adapter: str = "upload"  # ERP_ADAPTER: upload | odoo
    odoo_url: str = ""  # ODOO_URL
    odoo_database: str = ""  # ODOO_DATABASE
    odoo_username: str = ""  # ODOO_USERNAME
    odoo_password: str = ""  # ODOO_PASSWORD (or a secret naming it); never in the repr
    odoo_category_id: int | None = None  # ODOO_CATEGORY_ID: only products of this category are inspection points
    odoo_timeout: float = 10.0  # ODOO_TIMEOUT

    def __repr__(self) -> str:
        return repr_without(self, "odoo_password")


@cached
def get_erp_settings() -> ErpSettings:
    category = env_opt("ODOO_CATEGORY_ID")
    return ErpSettings(
        adapter=(env_opt("ERP_ADAPTER") or "upload").lower(),
        odoo_url=env_opt("ODOO_URL"),
        odoo_database=env_opt("ODOO_DATABASE"),
        odoo_username=env_opt("ODOO_USERNAME"),
        odoo_password=env_opt("ODOO_PASSWORD"),
        odoo_category_id=int(category) if category else None,
        odoo_timeout=env_float("ODOO_TIMEOUT", 10.0),
    )
