"""Scheduled (EventBridge): rediscover every Microshare cluster into the shared cache before it goes stale."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.core.observability import logger, metrics
from fleetgate.microshare import service


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = service.refresh_cache()
    logger.info("Microshare cache refreshed", extra=result)
    return result
