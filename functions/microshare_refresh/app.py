"""Scheduled (EventBridge): rediscover every Microshare cluster into the shared cache before it goes stale."""

from typing import Any

from fleetgate.core.observability import event_handler, logger
from fleetgate.microshare import service


@event_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = service.refresh_cache()
    logger.info("Microshare cache refreshed", extra=result)
    return result
