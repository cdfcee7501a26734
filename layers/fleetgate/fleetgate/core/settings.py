"""Settings, read lazily from the environment.

Nothing here runs at import time: tests and the local cloud set the environment
first, then the first call to :func:`get_settings` reads it. :func:`reset` drops
every cached value (settings, PynamoDB model classes, clients) so a test can
change the environment and start clean.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_RESETTABLE: list[Any] = []


def cached(fn: F) -> F:
    """``functools.cache`` whose cache :func:`reset` clears."""
    wrapped = functools.cache(fn)
    _RESETTABLE.append(wrapped)
    return wrapped  # type: ignore[return-value]


def reset() -> None:
    for fn in _RESETTABLE:
        fn.cache_clear()


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"setting {name} is not configured")
    return value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Tables:
    users: str
    uniques: str
    devices: str
    labels: str
    device_labels: str
    device_history: str
    functions: str
    function_versions: str
    integrations: str
    flows: str
    flow_triggers: str
    storages: str
    storage_data: str
    search: str
    executions: str


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    tables: Tables
    jwt_ttl_seconds: int
    jwt_issuer: str
    history_retention_days: int
    # Outbound HTTP/MQTT destinations allowed besides public addresses (see fleetgate.flows.outbound):
    # keywords "loopback", "private", "link-local" and/or CIDRs; empty = public addresses only.
    outbound_allow: tuple[str, ...] = ()
    _jwt_secret: str | None = field(default=None, repr=False)
    _jwt_secret_arn: str | None = field(default=None, repr=False)

    @property
    def jwt_secret(self) -> str:
        return _jwt_secret(self._jwt_secret, self._jwt_secret_arn)


@cached
def _jwt_secret(plain: str | None, arn: str | None) -> str:
    if plain:
        return plain
    if arn:
        # Secrets Manager, through Powertools parameters (cached for 5 minutes).
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_secret(arn, max_age=300))
    raise RuntimeError("JWT_SECRET or JWT_SECRET_ARN must be set")


@cached
def get_settings() -> Settings:
    return Settings(
        stage=_env("STAGE", "local"),
        region=_env("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        tables=Tables(
            users=_env("USERS_TABLE"),
            uniques=_env("UNIQUES_TABLE"),
            devices=_env("DEVICES_TABLE"),
            labels=_env("LABELS_TABLE"),
            device_labels=_env("DEVICE_LABELS_TABLE"),
            device_history=_env("DEVICE_HISTORY_TABLE"),
            functions=_env("FUNCTIONS_TABLE"),
            function_versions=_env("FUNCTION_VERSIONS_TABLE"),
            integrations=_env("INTEGRATIONS_TABLE"),
            flows=_env("FLOWS_TABLE"),
            flow_triggers=_env("FLOW_TRIGGERS_TABLE"),
            storages=_env("STORAGES_TABLE"),
            storage_data=_env("STORAGE_DATA_TABLE"),
            search=_env("SEARCH_TABLE"),
            executions=_env("EXECUTIONS_TABLE"),
        ),
        jwt_ttl_seconds=_env_int("JWT_TTL_SECONDS", 3600),
        jwt_issuer=_env("JWT_ISSUER", "fleetgate"),
        history_retention_days=_env_int("HISTORY_RETENTION_DAYS", 30),
        outbound_allow=tuple(p.strip().lower() for p in os.environ.get("OUTBOUND_ALLOW", "").split(",") if p.strip()),
        _jwt_secret=os.environ.get("JWT_SECRET") or None,
        _jwt_secret_arn=os.environ.get("JWT_SECRET_ARN") or None,
    )
