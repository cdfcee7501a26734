"""Overdue enforcement on an EventBridge schedule: lock phones past the grace period, remind the others."""

import time
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.observability import event_handler
from fleetgate.financing import enforcement


def _event_time(event: dict) -> datetime:
    """The schedule's time (EventBridge's ``time``), so a late invocation judges by when it was due."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    deadline = time.monotonic() + max(1.0, context.get_remaining_time_in_millis() / 1000 - 10)
    return enforcement.run(_event_time(event), deadline=deadline)
