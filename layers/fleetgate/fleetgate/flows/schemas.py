"""Flow definitions: nodes and edges as JSON.

Nodes (``id`` unique in the flow, ``type`` one of the node types, optional ``name`` and ``position`` for editors):
- ``device`` (``device_id``) and ``label`` (``label_id``): triggers, a flow runs when one of them sends an uplink
  (``events``: ["up"] by default; "offline" when offline detection marks the device, or one of the label's, offline);
- ``function`` (``function_id``, ``version``: a pinned version, or null to follow the latest);
- ``integration`` (``integration_id``), ``storage`` (``storage_id``);
- ``switch`` (``field``: a dotted path in the message, ``operator``: ==, !=, <, <=, >, >=, contains, exists, and
  ``value``, not used by ``exists``): its outgoing edges carry ``branch`` "true" or "false";
- ``delay`` (``seconds``, 1..604800): holds the message that long before its outgoing edges (through SQS up to
  15 minutes, beyond through an EventBridge Scheduler one-time schedule);
- ``meter`` (optional ``value``: a dotted path to the reading in the message, default ``data.reading``, else the
  decoded payload's only number): records the reading of the estates meter linked to the trigger device's DevEUI,
  charging its unit's wallet (once per run, whatever re-runs).
Edges: ``source`` → ``target`` node ids.
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from fleetgate.core.schemas import Input, Name, Printable, Schema

NODE_TYPES = ("device", "label", "function", "integration", "storage", "switch", "delay", "meter")
TRIGGER_TYPES = ("device", "label")
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "contains", "exists")
MAX_NODES = 100
MAX_EDGES = 200
MAX_DELAY_SECONDS = 7 * 24 * 3600
TRIGGER_EVENTS = ("up", "offline")
TriggerEvents = Annotated[
    list[Literal["up", "offline"]],
    Field(
        min_length=1,
        max_length=2,
        description="What starts the flow: uplinks (up, the default) and/or offline detection",
    ),
]

NodeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
RefId = Annotated[str, Field(min_length=1, max_length=64)]


class Position(Input):
    x: float
    y: float


class _Node(Input):
    id: NodeId
    name: Annotated[str, Field(max_length=128), Printable] | None = None
    position: Position | None = None


class DeviceNode(_Node):
    type: Literal["device"]
    device_id: RefId
    events: TriggerEvents | None = None


class LabelNode(_Node):
    type: Literal["label"]
    label_id: RefId
    events: TriggerEvents | None = None


class FunctionNode(_Node):
    type: Literal["function"]
    function_id: RefId
    version: Annotated[int, Field(ge=1)] | None = Field(default=None, description="null: follow the latest")


class IntegrationNode(_Node):
    type: Literal["integration"]
    integration_id: RefId


class StorageNode(_Node):
    type: Literal["storage"]
    storage_id: RefId


class SwitchNode(_Node):
    type: Literal["switch"]
    field: Annotated[str, Field(min_length=1, max_length=256, description="Dotted path, e.g. data.temperature")]
    operator: Literal["==", "!=", "<", "<=", ">", ">=", "contains", "exists"]
    value: Any = None


class DelayNode(_Node):
    type: Literal["delay"]
    seconds: Annotated[int, Field(ge=1, le=MAX_DELAY_SECONDS)]


class MeterNode(_Node):
    type: Literal["meter"]
    field: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=256,
                description="Dotted path to the reading, e.g. object.total_kwh (ChirpStack's decoded object is the "
                "message's data) or data.volume_m3; default data.reading, else the decoded payload's only number",
            ),
        ]
        | None
    ) = None


Node = Annotated[
    DeviceNode | LabelNode | FunctionNode | IntegrationNode | StorageNode | SwitchNode | DelayNode | MeterNode,
    Field(discriminator="type"),
]


class Edge(Input):
    source: NodeId
    target: NodeId
    branch: Literal["true", "false"] | None = Field(default=None, description="Edges out of a switch only")


def _known_types(nodes: Any) -> Any:
    """Name the node whose type is unknown (pydantic would only give its index)."""
    if isinstance(nodes, list):
        for i, node in enumerate(nodes):
            if isinstance(node, dict) and node.get("type") not in NODE_TYPES:
                who = f"node {node['id']!r}" if isinstance(node.get("id"), str) else f"node #{i}"
                raise ValueError(f"{who}: unknown type {node.get('type')!r} (expected one of {', '.join(NODE_TYPES)})")
    return nodes


class FlowCreate(Input):
    name: Name
    description: Annotated[str, Field(max_length=2048)] = ""
    enabled: bool = True
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]
    edges: Annotated[list[Edge], Field(max_length=MAX_EDGES)] = Field(default_factory=list)

    @field_validator("nodes", mode="before")
    @classmethod
    def node_types(cls, value: Any) -> Any:
        return _known_types(value)


class FlowUpdate(Input):
    """Fields to change; ``nodes`` and ``edges`` replace the graph (send both, or neither)."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=2048)] | None = None
    enabled: bool | None = None
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)] | None = None
    edges: Annotated[list[Edge], Field(max_length=MAX_EDGES)] | None = None

    @field_validator("nodes", mode="before")
    @classmethod
    def node_types(cls, value: Any) -> Any:
        return _known_types(value)


class Flow(Schema):
    id: str
    owner_id: str
    name: str
    description: str = ""
    enabled: bool = True
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    created_at: str
    updated_at: str
