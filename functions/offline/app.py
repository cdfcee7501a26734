"""Offline detection, on an EventBridge schedule: devices whose last_seen + expected_transmit_time has passed
(at the event's time) are marked offline."""

import time
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.ids import parse_iso
from fleetgate.core.observability import event_handler
from fleetgate.ingest import service


def _event_time(event: dict) -> datetime:
    """The schedule's time (EventBridge's ``time``), so a late invocation judges by when it was due."""
    try:
        return parse_iso(event["time"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    deadline = time.monotonic() + max(1.0, context.get_remaining_time_in_millis() / 1000 - 10)
    return service.detect_offline(_event_time(event), deadline=deadline)
