"""Logging, metrics and the handler decorator stack every function uses.

Only the light Powertools pieces are imported here: no X-Ray SDK (its import
alone costs about half a second of cold start); Lambda's active tracing still
records each invocation.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import Metrics

logger = Logger()  # service name from POWERTOOLS_SERVICE_NAME, set per function in template.yaml
metrics = Metrics(namespace="Fleetgate")
# A request that records no business metric is normal; don't warn on every one.
warnings.filterwarnings("ignore", message="No application metrics to publish")

REDACTED_KEYS = frozenset({"password", "token", "access_token", "pin", "fcm_token", "authorization", "api_key"})


def http_handler(resolve: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    """Wrap ``app.resolve`` as a Lambda handler with a correlation id and flushed metrics."""

    @metrics.log_metrics
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @functools.wraps(resolve)
    def lambda_handler(event: dict, context: Any) -> dict:
        started = time.perf_counter()
        response = resolve(event, context)
        http = event.get("requestContext", {}).get("http", {})
        # One access line per request: route and outcome only, never headers or bodies (tokens, passwords).
        logger.info(
            "request",
            extra={
                "method": http.get("method"),
                "route": event.get("routeKey"),
                "status": response.get("statusCode"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    return lambda_handler


def event_handler(handle: Callable[[dict, Any], Any]) -> Callable[[dict, Any], Any]:
    """Wrap an event consumer (SQS batch, schedule) as a Lambda handler: Lambda context in the logs, flushed
    metrics, one summary line per invocation (counts only, never the events' contents)."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(handle)
    def lambda_handler(event: dict, context: Any) -> Any:
        started = time.perf_counter()
        result = handle(event, context)
        records = event.get("Records") if isinstance(event, dict) else None
        failed = result.get("batchItemFailures") if isinstance(result, dict) else None
        logger.info(
            "event",
            extra={
                "source": (records[0].get("eventSource") if records else None) or (event or {}).get("source"),
                "records": len(records) if records is not None else None,
                "failed": len(failed) if failed is not None else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return result

    return lambda_handler
