"""Settings, read lazily from the environment.

Nothing here runs at import time: tests and the local cloud set the environment
first, then the first call to :func:`get_settings` reads it. :func:`reset` drops
every cached value (settings, PynamoDB model classes, clients) so a test can
change the environment and start clean.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")

_RESETTABLE: list[Callable[[], None]] = []


def cached(fn: F) -> F:
    """``functools.cache`` whose cache :func:`reset` clears."""
    wrapped = functools.cache(fn)
    _RESETTABLE.append(wrapped.cache_clear)
    return wrapped  # type: ignore[return-value]


def resettable(cache: C) -> C:
    """Register a module-level cache (a dict, an OrderedDict: anything with ``clear()``) that :func:`reset` empties,
    like the ``@cached`` factories: a warm instance's memory of runs or function versions belongs to one environment."""
    _RESETTABLE.append(cache.clear)  # type: ignore[attr-defined]
    return cache


def reset() -> None:
    for clear in _RESETTABLE:
        clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:  # values read through resolve_secret (only if it was ever used)
        parameters.clear_caches()


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"setting {name} is not configured")
    return value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_opt(name: str) -> str:
    """An optional setting: empty when unset (the route that needs it reports it as not configured)."""
    return os.environ.get(name, "").strip()


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated setting, lower-cased, without empty entries."""
    return tuple(p.strip().lower() for p in os.environ.get(name, "").split(",") if p.strip())


def table_name(variable: str) -> str:
    """A DynamoDB table's name, from its environment variable (``USERS_TABLE``, ...).

    Each function's entry in template.yaml sets only the tables its code uses, so nothing reads this at
    import: a repository asks when it first builds its model, and a function that reaches a table it was not
    given fails there, naming the variable.
    """
    return _env(variable)


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str


@cached
def get_settings() -> Settings:
    return Settings(
        stage=_env("STAGE", "local"),
        region=_env("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
    )


# Each accessor below reads only the variables one concern needs, so a function's template entry sets exactly
# the settings its code reaches (tests/test_function_settings.py checks that against template.yaml).
@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    _secret: str | None = field(default=None, repr=False)
    _secret_arn: str | None = field(default=None, repr=False)

    @property
    def secret(self) -> str:
        """The HMAC key of bearer tokens and list cursors."""
        return _plain_or_arn(self._secret, self._secret_arn, "JWT_SECRET")


def _plain_or_arn(plain: str | None, arn: str | None, variable: str) -> str:
    """A secret given in plain (``X``: tests, the local cloud) or by its Secrets Manager ARN (``X_ARN``: a stack),
    read through Powertools parameters, cached 5 minutes, so a rotation reaches warm instances."""
    if plain:
        return plain
    if arn:
        return resolve_secret(arn)
    raise RuntimeError(f"{variable} or {variable}_ARN must be set")


@cached
def get_auth_settings() -> AuthSettings:
    return AuthSettings(
        issuer=_env("JWT_ISSUER", "fleetgate"),
        _secret=os.environ.get("JWT_SECRET") or None,
        _secret_arn=os.environ.get("JWT_SECRET_ARN") or None,
    )


@cached
def token_ttl_seconds() -> int:
    """JWT_TTL_SECONDS: how long an issued token is valid (only the routes that issue tokens read it)."""
    return _env_int("JWT_TTL_SECONDS", 3600)


@cached
def history_retention_days() -> int:
    """HISTORY_RETENTION_DAYS: how long device history, execution history and dead letters are kept."""
    return _env_int("HISTORY_RETENTION_DAYS", 30)


@cached
def outbound_allow() -> tuple[str, ...]:
    """OUTBOUND_ALLOW: non-public destinations integrations may call besides public addresses (see
    fleetgate.integrations.outbound): keywords "loopback", "private", "link-local" and/or CIDRs; empty = public
    addresses only."""
    return _env_list("OUTBOUND_ALLOW")


@cached
def outbound_deny() -> tuple[str, ...]:
    """OUTBOUND_DENY: destinations refused even where OUTBOUND_ALLOW allows their range, as
    "<keyword or CIDR>:<port>" entries. Only the local cloud sets it, to its own AWS endpoints ("loopback:<port>")."""
    return _env_list("OUTBOUND_DENY")


@cached
def allow_registration() -> bool:
    """ALLOW_REGISTRATION (template parameter AllowRegistration): whether anyone may register."""
    return os.environ.get("ALLOW_REGISTRATION", "").strip().lower() in ("true", "1", "yes")


# ------------------------------------------------------------------ upstream credentials
SECRET_MAX_AGE = 300  # seconds a value read from Secrets Manager or SSM is reused before it is read again

_SECRET_PREFIXES = ("secretsmanager:", "ssm:", "arn:aws:secretsmanager:", "arn:aws:ssm:")


def names_secret(value: str) -> bool:
    """Whether a setting's value names a secret (``secretsmanager:<name>``, ``ssm:<parameter>`` or an ARN)."""
    return value.startswith(_SECRET_PREFIXES)


def resolve_secret(value: str, *, force: bool = False) -> str:
    """A credential setting's value: the value itself, or the secret it names.

    ``secretsmanager:<name or ARN>`` and Secrets Manager ARNs are read with GetSecretValue;
    ``ssm:<parameter name>`` and SSM parameter ARNs with GetParameter (decrypted). Both go through
    Powertools parameters, cached for :data:`SECRET_MAX_AGE` seconds; ``force`` reads again (after a
    rotation). The value is never logged. Errors propagate (the caller reports a configuration error).
    """
    if not names_secret(value):
        return value
    from aws_lambda_powertools.utilities import parameters

    if value.startswith("secretsmanager:"):
        return str(parameters.get_secret(value[len("secretsmanager:") :], max_age=SECRET_MAX_AGE, force_fetch=force))
    if value.startswith("arn:aws:secretsmanager:"):
        return str(parameters.get_secret(value, max_age=SECRET_MAX_AGE, force_fetch=force))
    name = value[len("ssm:") :] if value.startswith("ssm:") else value
    return str(parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE, force_fetch=force))


@dataclass(frozen=True)
class MobivisorSettings:
    api_url: str  # MOBIVISOR_API_URL; empty: not configured
    api_token: str = field(repr=False)  # MOBIVISOR_API_TOKEN: the token, or the secret naming it; empty: not configured
    connect_timeout: float = 5.0  # MOBIVISOR_CONNECT_TIMEOUT
    timeout: float = 10.0  # MOBIVISOR_TIMEOUT: deadline of the whole upstream call


@cached
def get_mobivisor_settings() -> MobivisorSettings:
    return MobivisorSettings(
        api_url=_env_opt("MOBIVISOR_API_URL"),
        api_token=_env_opt("MOBIVISOR_API_TOKEN"),
        connect_timeout=_env_float("MOBIVISOR_CONNECT_TIMEOUT", 5.0),
        timeout=_env_float("MOBIVISOR_TIMEOUT", 10.0),
    )


@dataclass(frozen=True)
class MicroshareSettings:
    auth_url: str  # MICROSHARE_AUTH_URL
    api_url: str  # MICROSHARE_API_URL
    username: str  # MICROSHARE_USERNAME
    password: str = field(repr=False)  # MICROSHARE_PASSWORD (or a secret naming it)
    api_key: str = field(repr=False)  # MICROSHARE_API_KEY: the OAuth client id (or a secret naming it)
    cache_ttl: int = 300  # CACHE_TTL: seconds discovered clusters stay fresh
    api_timeout: float = 10.0  # API_TIMEOUT: deadline of one upstream call
    connect_timeout: float = 5.0  # MICROSHARE_CONNECT_TIMEOUT
    lease_seconds: float = 35.0  # MICROSHARE_LEASE_SECONDS: a cluster write lease outlives the function timeout
    lease_wait_seconds: float = 10.0  # MICROSHARE_LEASE_WAIT_SECONDS: how long a write waits for a busy cluster


@cached
def get_microshare_settings() -> MicroshareSettings:
    return MicroshareSettings(
        auth_url=_env_opt("MICROSHARE_AUTH_URL"),
        api_url=_env_opt("MICROSHARE_API_URL"),
        username=_env_opt("MICROSHARE_USERNAME"),
        password=_env_opt("MICROSHARE_PASSWORD"),
        api_key=_env_opt("MICROSHARE_API_KEY"),
        cache_ttl=_env_int("CACHE_TTL", 300),
        api_timeout=_env_float("API_TIMEOUT", 10.0),
        connect_timeout=_env_float("MICROSHARE_CONNECT_TIMEOUT", 5.0),
        lease_seconds=_env_float("MICROSHARE_LEASE_SECONDS", 35.0),
        lease_wait_seconds=_env_float("MICROSHARE_LEASE_WAIT_SECONDS", 10.0),
    )


@dataclass(frozen=True)
class ErpSettings:
    adapter: str = "upload"  # ERP_ADAPTER: upload | odoo
    odoo_url: str = ""  # ODOO_URL
    odoo_database: str = ""  # ODOO_DATABASE
    odoo_username: str = ""  # ODOO_USERNAME
    odoo_password: str = field(default="", repr=False)  # ODOO_PASSWORD (or a secret naming it)
    odoo_category_id: int | None = None  # ODOO_CATEGORY_ID: only products of this category are inspection points
    odoo_timeout: float = 10.0  # ODOO_TIMEOUT


@cached
def get_erp_settings() -> ErpSettings:
    category = _env_opt("ODOO_CATEGORY_ID")
    return ErpSettings(
        adapter=(_env_opt("ERP_ADAPTER") or "upload").lower(),
        odoo_url=_env_opt("ODOO_URL"),
        odoo_database=_env_opt("ODOO_DATABASE"),
        odoo_username=_env_opt("ODOO_USERNAME"),
        odoo_password=_env_opt("ODOO_PASSWORD"),
        odoo_category_id=int(category) if category else None,
        odoo_timeout=_env_float("ODOO_TIMEOUT", 10.0),
    )


# ---------------------------------------------------------------- ingest and the flow engine (read on first use only:
# functions that never ingest or run flows, and create-admin against a deployed stack, need none of it)
@dataclass(frozen=True)
class EngineSettings:
    """Where flow steps are sent: the steps queue, and the one-time schedules of delays beyond SQS's."""

    steps_queue_url: str
    steps_queue_arn: str
    scheduler_role_arn: str
    schedule_prefix: str  # names of one-time delay schedules start with it (one stack's never collide with another's)
    sqs_delay_limit: int  # delays up to this many seconds use SQS DelaySeconds (max 900); longer ones a schedule


@cached
def get_engine_settings() -> EngineSettings:
    return EngineSettings(
        steps_queue_url=_env("FLOW_STEPS_QUEUE_URL"),
        steps_queue_arn=_env("FLOW_STEPS_QUEUE_ARN"),
        scheduler_role_arn=_env("FLOW_SCHEDULER_ROLE_ARN", ""),
        schedule_prefix=_env("FLOW_SCHEDULE_PREFIX", "fleetgate"),
        sqs_delay_limit=max(0, min(_env_int("FLOW_SQS_DELAY_LIMIT", 900), 900)),
    )


@cached
def dead_letter_queue_url() -> str:
    """FLOW_DEAD_LETTER_QUEUE_URL: where the flow worker sends the steps it dead-letters."""
    return _env("FLOW_DEAD_LETTER_QUEUE_URL")


@cached
def flow_max_receive_count() -> int:
    """FLOW_MAX_RECEIVE_COUNT: the steps queue's redrive maxReceiveCount (the last receive dead-letters a step)."""
    return max(1, _env_int("FLOW_MAX_RECEIVE_COUNT", 5))


@cached
def flow_run_ttl_hours() -> int:
    """How long run state and step traces live (the step idempotency window; longer than the longest delay)."""
    return max(1, _env_int("FLOW_RUN_TTL_HOURS", 9 * 24))


@dataclass(frozen=True)
class IngestSettings:
    dedup_hours: int  # how long a deduplicationId is remembered
    _key_secret: str | None = field(default=None, repr=False)
    _key_secret_arn: str | None = field(default=None, repr=False)

    @property
    def key_secret(self) -> str:
        """The key of the ingest API keys' HMAC (keys are stored as HMAC-SHA256 of the key under it)."""
        return _plain_or_arn(self._key_secret, self._key_secret_arn, "INGEST_KEY_SECRET")


@cached
def get_ingest_settings() -> IngestSettings:
    return IngestSettings(
        dedup_hours=max(1, _env_int("INGEST_DEDUP_HOURS", 24)),
        _key_secret=os.environ.get("INGEST_KEY_SECRET") or None,
        _key_secret_arn=os.environ.get("INGEST_KEY_SECRET_ARN") or None,
    )


@cached
def offline_shards() -> int:
    """OFFLINE_SHARDS: partitions of the devices' offline_due index."""
    return max(1, min(_env_int("OFFLINE_SHARDS", 4), 64))
