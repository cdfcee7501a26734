"""The financing context's settings, read on first use (each function's template entry sets only what it uses)."""

from typing import NamedTuple

from fleetgate.core.settings import cached, env_float, env_int, env_opt, repr_without

# Settings records: NamedTuples whose repr leaves secrets out (see fleetgate.core.settings).


def _env_int(name: str, default: int, low: int, high: int) -> int:
    """``env_int`` kept within [low, high]."""
    return max(low, min(env_int(name, default), high))


class DeviceLimits(NamedTuple):
    """Rate limits of the unauthenticated device routes (fixed windows, counted in DynamoDB)."""

    per_ip: int  # DEVICE_RATE_LIMIT_PER_IP: requests per window from one source address (carrier NAT: keep it high)
    per_imei: int  # DEVICE_RATE_LIMIT_PER_IMEI: requests per window naming one IMEI
    window_seconds: int  # DEVICE_RATE_LIMIT_WINDOW


@cached
def device_limits() -> DeviceLimits:
    return DeviceLimits(
        per_ip=_env_int("DEVICE_RATE_LIMIT_PER_IP", 300, 1, 1_000_000),
        per_imei=_env_int("DEVICE_RATE_LIMIT_PER_IMEI", 30, 1, 1_000_000),
        window_seconds=_env_int("DEVICE_RATE_LIMIT_WINDOW", 60, 1, 86_400),
    )


class Commands(NamedTuple):
    """Lock commands: how long one is pursued and how its sends are spaced (SQS delays, at most 900 s)."""

    queue_url: str  # LOCK_COMMANDS_QUEUE_URL
    ttl_hours: int  # LOCK_COMMAND_TTL_HOURS: unacknowledged commands expire after this (24)
    first_backoff: int  # LOCK_COMMAND_BACKOFF_SECONDS: delay before the first re-send, doubled each time (30)
    max_backoff: int  # LOCK_COMMAND_MAX_BACKOFF_SECONDS: the longest delay between sends (900, SQS's maximum)
    reminder_attempts: int = 5  # sends of an EMI_REMINDER that FCM refuses as retryable before it is dropped


@cached
def commands() -> Commands:
    queue_url = env_opt("LOCK_COMMANDS_QUEUE_URL")
    if not queue_url:
        raise RuntimeError("setting LOCK_COMMANDS_QUEUE_URL is not configured")
    first = _env_int("LOCK_COMMAND_BACKOFF_SECONDS", 30, 0, 900)
    return Commands(
        queue_url=queue_url,
        ttl_hours=_env_int("LOCK_COMMAND_TTL_HOURS", 24, 1, 24 * 28),
        first_backoff=first,
        max_backoff=max(first, _env_int("LOCK_COMMAND_MAX_BACKOFF_SECONDS", 900, 0, 900)),
    )


@cached
def grace_days() -> int:
    """EMI_GRACE_DAYS: days an instalment may be late before the phone is locked (5)."""
    return _env_int("EMI_GRACE_DAYS", 5, 0, 365)


class Fcm(NamedTuple):
    """Where pushes go. ``endpoint`` empty: Google's FCM with the service account named by ``credentials``; set:
    ``{endpoint}/v1/projects/{project}/messages:send`` without Google credentials (the local cloud's fake)."""

    endpoint: str  # FCM_ENDPOINT
    project_id: str  # FCM_PROJECT_ID
    credentials: str = ""  # FCM_CREDENTIALS: Secrets Manager secret (name or ARN); never in the repr
    timeout: float = 10.0  # FCM_TIMEOUT: seconds for one send

    def __repr__(self) -> str:
        return repr_without(self, "credentials")


@cached
def fcm() -> Fcm:
    endpoint = env_opt("FCM_ENDPOINT").rstrip("/")
    return Fcm(
        endpoint=endpoint,
        project_id=env_opt("FCM_PROJECT_ID") or ("fleetgate-local" if endpoint else ""),
        credentials=env_opt("FCM_CREDENTIALS"),
        timeout=env_float("FCM_TIMEOUT", 10.0),
    )
