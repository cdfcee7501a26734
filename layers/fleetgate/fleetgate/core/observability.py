"""Logging, metrics and the handler decorator stack every function uses.

Only the light Powertools pieces are imported here: no X-Ray SDK (its import
alone costs about half a second of cold start); Lambda's active tracing still
records each invocation.

Metrics are CloudWatch EMF lines (Powertools Metrics), namespace ``Fleetgate``, dimension ``service``:
:func:`count` and :func:`timing` add to the current invocation's set, which its handler flushes as one EMF line
when the invocation recorded any (nothing, and no warning, when it did not); a metric with dimensions of its own
(``status``, ``upstream``) is one EMF line at once. The dashboard's metrics:

- ``UplinksAccepted``, ``UplinksDuplicate``, ``UplinksIgnored`` (Count): ingest, per event;
- ``FlowRuns`` by ``status`` (success, partial_success, error): the flow worker, per settled run;
- ``StepRetries``, ``DeadLetters`` (Count): the flow worker;
- ``IntegrationLatency`` (Milliseconds), ``IntegrationFailures`` (Count): every delivery (flows and test sends);
- ``FunctionDuration`` (Milliseconds): every user-function run of a flow;
- ``UpstreamErrors`` by ``upstream`` (mobivisor, microshare) and ``status`` (the HTTP status, timeout,
  unreachable): the upstream calls.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "Fleetgate"
logger = Logger()  # service name per function: see _service_name

REDACTED_KEYS = frozenset({"password", "token", "access_token", "pin", "fcm_token", "authorization", "api_key"})

_service: ContextVar[str | None] = ContextVar("fleetgate_service", default=None)
_invocation: ContextVar[list[EphemeralMetrics] | None] = ContextVar("fleetgate_metrics", default=None)


# ---------------------------------------------------------------- metrics
def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Count ``value`` of ``name`` (EMF, unit Count)."""
    _emit(name, MetricUnit.Count, value, dimensions)


def timing(name: str, milliseconds: float, **dimensions: str) -> None:
    """Record a duration of ``name`` (EMF, unit Milliseconds)."""
    _emit(name, MetricUnit.Milliseconds, milliseconds, dimensions)


def _metrics() -> EphemeralMetrics:
    return EphemeralMetrics(namespace=NAMESPACE, service=_service.get() or _service_name())


def _emit(name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
    batch = _invocation.get()
    if batch is not None and not dimensions:
        if not batch:
            batch.append(_metrics())
        batch[0].add_metric(name=name, unit=unit, value=value)
        return
    single = _metrics()  # dimensions of its own (or outside a handler): one EMF line now
    for key, dim in dimensions.items():
        single.add_dimension(name=key, value=str(dim))
    single.add_metric(name=name, unit=unit, value=value)
    single.flush_metrics()


def _service_name() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or "fleetgate"


@contextlib.contextmanager
def _invocation_scope(service: str) -> Iterator[None]:
    """The logging and metrics scope of one invocation: this function's service name on every log line and EMF
    line of it (the local cloud runs every function in one process, each invocation on its own thread), and the
    invocation's metrics flushed at its end, when it recorded any."""
    batch: list[EphemeralMetrics] = []  # made by the first metric recorded: most requests record none
    tokens = _service.set(service), _invocation.set(batch)
    logger.thread_safe_append_keys(service=service)
    try:
        yield
    finally:
        if batch and batch[0].metric_set:
            batch[0].flush_metrics()
        _service.reset(tokens[0])
        _invocation.reset(tokens[1])


# ---------------------------------------------------------------- handlers
def _imports_done() -> None:
    """The handler module is imported: resume the garbage collector (paused by ``fleetgate/__init__.py`` in a
    Lambda process), with what the imports made frozen out of its collections, as it lives as long as the
    process."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def http_handler(resolve: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    """Wrap ``app.resolve`` as a Lambda handler with a correlation id, this function's service name and its
    metrics flushed. The service name is POWERTOOLS_SERVICE_NAME as the handler module is imported (as Powertools'
    own Logger takes it): the local cloud imports each function under its own."""
    service = _service_name()
    _imports_done()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @functools.wraps(resolve)
    def lambda_handler(event: dict, context: Any) -> dict:
        started = time.perf_counter()
        with _invocation_scope(service):
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
    """Wrap an event consumer (SQS batch, stream batch, schedule) as a Lambda handler: Lambda context in the logs,
    this function's service name, its metrics flushed, one summary line per invocation (counts only, never the
    events' contents)."""
    service = _service_name()
    _imports_done()

    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(handle)
    def lambda_handler(event: dict, context: Any) -> Any:
        started = time.perf_counter()
        with _invocation_scope(service):
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
