# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Any, Literal

from pydantic import Field

from fleetgate.core.schemas import Schema

RunStatus = Literal["success", "error"]
FlowStatus = Literal["success", "partial_success", "error"]


class _Record(Schema):
    id: str = Field(description="History id: sortable by start time")
    status: str
    started_at: str
    duration_ms: float
    error: str | None = None
    flow_id: str | None = None
    run_id: str | None = None


class FunctionExecution(_Record):
    status: RunStatus
    function_id: str
    version: int | None = None
    input: Any = None
    output: Any = None
    logs: list[str] = Field(default_factory=list)


class IntegrationExecution(_Record):
    status: RunStatus
    integration_id: str
    request: dict[str, Any] = Field(default_factory=dict, description="What was sent; secrets masked")
    response: dict[str, Any] = Field(default_factory=dict)


class FlowExecution(_Record):
    status: FlowStatus
    trigger: dict[str, Any] = Field(default_factory=dict, description="What started the run (device, label, uplink)")
    input: Any = None
    output: Any = None
    steps: list[dict[str, Any]] = Field(default_factory=list, description="One entry per node executed, in order")
