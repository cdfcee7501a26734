"""Settings, read lazily from the environment.

Nothing here runs at import time: tests and the local cloud set the environment
first, then the first call to :func:`get_settings` reads it. :func:`reset` drops
every cached value (settings, PynamoDB model classes, clients) so a test can
change the environment and start clean.
"""

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

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


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"setting {name} is not configured")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def env_opt(name: str) -> str:
    """An optional setting: empty when unset (the route that needs it reports it as not configured)."""
    return os.environ.get(name, "").strip()


def env_list(name: str) -> tuple[str, ...]:
    """A comma-separated setting, lower-cased, without empty entries."""
    return tuple(p.strip().lower() for p in os.environ.get(name, "").split(",") if p.strip())


def table_name(variable: str) -> str:
    """A DynamoDB table's name, from its environment variable (``USERS_TABLE``, ...).

    Each function's entry in template.yaml sets only the tables its code uses, so nothing reads this at
    import: a repository asks when it first builds its model, and a function that reaches a table it was not
    given fails there, naming the variable.
    """
    return env(variable)


# Settings records, here and in the contexts, are NamedTuples, not frozen dataclasses: cheaper to define at import
# (about 0.3 ms against 1.1 ms a class; this module is on every function's cold start). Being tuples, they are never
# handed to a JSON encoder or a logger's ``extra`` (they would be written as lists, secrets included); their repr
# leaves secrets out (repr_without).
def repr_without(record: Any, *hidden: str) -> str:
    """A NamedTuple record's repr without the fields named in ``hidden`` (secrets: never in a log or a trace)."""
    shown = ", ".join(f"{k}={v!r}" for k, v in record._asdict().items() if k not in hidden)
    return f"{type(record).__name__}({shown})"


class Settings(NamedTuple):
    stage: str
    region: str


@cached
def get_settings() -> Settings:
    return Settings(
        stage=env("STAGE", "local"),
        region=env("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
    )


# Each accessor below reads only the variables one concern needs, so a function's template entry sets exactly
# the settings its code reaches (tests/test_function_settings.py checks that against template.yaml).
class AuthSettings(NamedTuple):
    issuer: str
    plain_secret: str | None = None  # JWT_SECRET (tests, the local cloud); never in the repr
    secret_arn: str | None = None  # JWT_SECRET_ARN (a stack); never in the repr

    @property
    def secret(self) -> str:
        """The HMAC key of bearer tokens and list cursors."""
        return plain_or_arn(self.plain_secret, self.secret_arn, "JWT_SECRET")

    def __repr__(self) -> str:
        return repr_without(self, "plain_secret", "secret_arn")


def plain_or_arn(plain: str | None, arn: str | None, variable: str) -> str:
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
        issuer=env("JWT_ISSUER", "fleetgate"),
        plain_secret=os.environ.get("JWT_SECRET") or None,
        secret_arn=os.environ.get("JWT_SECRET_ARN") or None,
    )


@cached
def token_ttl_seconds() -> int:
    """JWT_TTL_SECONDS: how long an issued token is valid (only the routes that issue tokens read it)."""
    return env_int("JWT_TTL_SECONDS", 3600)


@cached
def history_retention_days() -> int:
    """HISTORY_RETENTION_DAYS: how long device history, execution history and dead letters are kept."""
    return env_int("HISTORY_RETENTION_DAYS", 30)


@cached
def outbound_allow() -> tuple[str, ...]:
    """OUTBOUND_ALLOW: non-public destinations integrations may call besides public addresses (see
    fleetgate.integrations.outbound): keywords "loopback", "private", "link-local" and/or CIDRs; empty = public
    addresses only."""
    return env_list("OUTBOUND_ALLOW")


@cached
def outbound_deny() -> tuple[str, ...]:
    """OUTBOUND_DENY: destinations refused even where OUTBOUND_ALLOW allows their range, as
    "<keyword or CIDR>:<port>" entries. Only the local cloud sets it, to its own AWS endpoints ("loopback:<port>")."""
    return env_list("OUTBOUND_DENY")


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


@cached
def offline_shards() -> int:
    """OFFLINE_SHARDS: partitions of the devices' offline_due index."""
    return max(1, min(env_int("OFFLINE_SHARDS", 4), 64))
