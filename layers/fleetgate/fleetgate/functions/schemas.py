# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated, Any, NamedTuple

from pydantic import Field

from fleetgate.core.schemas import Input, Name, Schema

Description = Annotated[str, Field(max_length=2048)]
Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=65536,
        description="JavaScript; entry point decodeUplink, processData, process or the only function",
    ),
]
TimeoutMs = Annotated[int, Field(ge=1, le=1000, description="Time limit of one execution in ms (default 100)")]


class FunctionCreate(Input):
    name: Name
    description: Description = ""
    code: Code
    timeout_ms: TimeoutMs = 100


class FunctionUpdate(Input):
    """Fields to change; absent fields keep their value. A change of code or timeout_ms makes a new version."""

    name: Name | None = None
    description: Description | None = None
    code: Code | None = None
    timeout_ms: TimeoutMs | None = None


class Function(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    code: str
    timeout_ms: int = 100
    entry_point: str
    version: int = Field(description="Current version; every version is kept (GET .../versions)")
    created_at: str
    updated_at: str


class FunctionVersion(Schema):
    function_id: str
    version: int
    code: str
    timeout_ms: int
    entry_point: str
    created_at: str


class FunctionTestRequest(Input):
    payload: dict[str, Any] = Field(default_factory=dict, description="The message the function receives")
    version: Annotated[int, Field(ge=1)] | None = Field(default=None, description="Default: the current version")


class FunctionTestResult(Schema):
    success: bool
    output: dict[str, Any] | None = None
    logs: list[str] = Field(default_factory=list, description="console.log lines, in order")
    duration_ms: float
    error: str | None = None
    error_line: int | None = None
    version: int


class FunctionCode(NamedTuple):
    """One version of a function's code, as running it needs it (the flow engine's function nodes). A NamedTuple:
    cheaper to define at import than a frozen dataclass."""

    function_id: str
    version: int
    owner_id: str
    code: str
    timeout_ms: int
