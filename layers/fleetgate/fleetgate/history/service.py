"""Recording and reading execution history. The flow engine records through the ``record_*`` functions (with
``batch=``, gathered and written together by :func:`write`); the
API reads through the ``list_*``/``get_*`` functions (the caller's visibility of the resource is checked by the
resource's own service first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetgate.core.auth import Principal
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.history import repository
from fleetgate.history.schemas import FlowExecution, FunctionExecution, IntegrationExecution

_SCHEMAS: dict[str, Any] = {"function": FunctionExecution, "integration": IntegrationExecution, "flow": FlowExecution}


def record_function_run(
    *,
    function_id: str,
    owner_id: str,
    status: str,
    started: datetime,
    duration_ms: float,
    input: Any,
    output: Any = None,
    logs: list[str] | None = None,
    error: str | None = None,
    version: int | None = None,
    flow_id: str | None = None,
    run_id: str | None = None,
    history_id: str | None = None,
    batch: list[Any] | None = None,
) -> FunctionExecution:
    plain = repository.record(
        "function",
        function_id,
        owner_id,
        status=status,
        started=started,
        duration_ms=duration_ms,
        details={
            "input": input,
            "output": output,
            "logs": logs or [],
            "error": error,
            "version": version,
            "flow_id": flow_id,
            "run_id": run_id,
        },
        history_id=history_id,
        batch=batch,
    )
    return FunctionExecution(**plain)


def record_integration_call(
    *,
    integration_id: str,
    owner_id: str,
    status: str,
    started: datetime,
    duration_ms: float,
    request: dict[str, Any],
    response: dict[str, Any] | None = None,
    error: str | None = None,
    flow_id: str | None = None,
    run_id: str | None = None,
    history_id: str | None = None,
    batch: list[Any] | None = None,
) -> IntegrationExecution:
    """``request`` must already have its secrets masked (the integrations service's ``masked_request``)."""
    plain = repository.record(
        "integration",
        integration_id,
        owner_id,
        status=status,
        started=started,
        duration_ms=duration_ms,
        details={"request": request, "response": response or {}, "error": error, "flow_id": flow_id, "run_id": run_id},
        history_id=history_id,
        batch=batch,
    )
    return IntegrationExecution(**plain)


def record_flow_run(
    *,
    flow_id: str,
    owner_id: str,
    status: str,
    started: datetime,
    duration_ms: float,
    trigger: dict[str, Any],
    input: Any = None,
    output: Any = None,
    steps: list[dict[str, Any]] | None = None,
    error: str | None = None,
    run_id: str | None = None,
    history_id: str | None = None,
    batch: list[Any] | None = None,
) -> FlowExecution:
    plain = repository.record(
        "flow",
        flow_id,
        owner_id,
        status=status,
        started=started,
        duration_ms=duration_ms,
        details={
            "trigger": trigger,
            "input": input,
            "output": output,
            "steps": steps or [],
            "error": error,
            "run_id": run_id,
        },
        history_id=history_id,
        batch=batch,
    )
    plain.pop("flow_id", None)
    return FlowExecution(flow_id=flow_id, **plain)


def flow_runs_recorded(keys: list[tuple[str, str]]) -> Lookup[set[tuple[str, str]]]:
    """Which of these (flow id, history id) flow run records exist, as a batch read."""
    return repository.recorded("flow", keys)


def write(batch: list[Any]) -> None:
    """Write the records gathered with ``batch=`` (BatchWriteItem, 25 per call)."""
    repository.write(batch)


def history_id(started: datetime, suffix: str) -> str:
    """A history id derived from ``suffix`` (12 hex digits, e.g. from a flow run's id): recording under it twice
    writes one record."""
    return repository.new_history_id(started, suffix)


def call_id(run_history_id: str, key: str) -> str:
    """The history id of a function run or integration call made in a run (``key``: hex digits derived from the
    run and the step): kept with the run's record when they are written in one batch."""
    return repository.call_id(run_history_id, key)


def for_resource(kind: str, resource_id: str, owner_id: str, *, limit: int, cursor: str | None) -> Page[Any]:
    """The records of one resource (``owner_id``: its owner), newest first."""
    convert = lambda p: _SCHEMAS[kind](**p)  # noqa: E731
    return repository.for_resource(kind, resource_id, owner_id, convert, limit=limit, cursor=cursor)


def for_caller(who: Principal, kind: str, *, limit: int, cursor: str | None) -> Page[Any]:
    """The caller's records of ``kind`` (everyone's for an admin), newest first."""
    convert = lambda p: _SCHEMAS[kind](**p)  # noqa: E731
    if who.is_admin:
        return repository.everyone(kind, convert, limit=limit, cursor=cursor)
    return repository.for_owner(kind, who.user_id, convert, limit=limit, cursor=cursor)


def get(kind: str, resource_id: str, history_id: str, owner_id: str) -> Any | None:
    return repository.get(kind, resource_id, history_id, owner_id, lambda p: _SCHEMAS[kind](**p))
