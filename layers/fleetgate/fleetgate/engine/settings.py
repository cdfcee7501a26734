"""The flow engine's settings, read on first use only: functions that never run flows need none of it."""

from typing import NamedTuple

from fleetgate.core.settings import cached, env, env_int


class EngineSettings(NamedTuple):
    """Where flow steps are sent: the steps queue, and the one-time schedules of delays beyond SQS's. A NamedTuple,
    not a frozen dataclass: cheaper to define at import (see fleetgate.core.settings)."""

    steps_queue_url: str
    steps_queue_arn: str
    scheduler_role_arn: str
    schedule_prefix: str  # names of one-time delay schedules start with it (one stack's never collide with another's)
    sqs_delay_limit: int  # delays up to this many seconds use SQS DelaySeconds (max 900); longer ones a schedule


@cached
def get_engine_settings() -> EngineSettings:
    return EngineSettings(
        steps_queue_url=env("FLOW_STEPS_QUEUE_URL"),
        steps_queue_arn=env("FLOW_STEPS_QUEUE_ARN"),
        scheduler_role_arn=env("FLOW_SCHEDULER_ROLE_ARN", ""),
        schedule_prefix=env("FLOW_SCHEDULE_PREFIX", "fleetgate"),
        sqs_delay_limit=max(0, min(env_int("FLOW_SQS_DELAY_LIMIT", 900), 900)),
    )


@cached
def dead_letter_queue_url() -> str:
    """FLOW_DEAD_LETTER_QUEUE_URL: where the flow worker sends the steps it dead-letters."""
    return env("FLOW_DEAD_LETTER_QUEUE_URL")


@cached
def flow_max_receive_count() -> int:
    """FLOW_MAX_RECEIVE_COUNT: the steps queue's redrive maxReceiveCount (the last receive dead-letters a step)."""
    return max(1, env_int("FLOW_MAX_RECEIVE_COUNT", 5))


@cached
def flow_run_ttl_hours() -> int:
    """How long run state and step traces live (the step idempotency window; longer than the longest delay)."""
    return max(1, env_int("FLOW_RUN_TTL_HOURS", 9 * 24))
