"""Flow steps (the SQS messages of the engine) and the dead-letter API.

A message starts a run (``start``: what started it, the trigger event and nodes, the device, an origin for
deterministic run ids, or the dead letter it replays; ``node_id`` is :data:`START`, which fans out to the
trigger nodes' successors, or the failed node a replay starts from) or resumes a run that had to wait (a delay,
a retry's backoff: ``state``, everything the run had so far, or ``parked``, where that state waits when a long
delay's schedule could not carry it). The worker runs the whole flow in process up to the next wait or the end.
Within a run, a node is executed as a :class:`Step`: ``node_id``, ``attempt`` and ``via`` (which path reached
it: two paths into one node are two steps).
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import json
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from fleetgate.core.schemas import Input, Schema

START = "$start"  # not a valid node id in a saved flow (node ids are [A-Za-z0-9_.:-]+)
STEP_VERSION = 1
RUN_NAMESPACE = uuid.UUID("6f1c1f5e-7c1a-4c59-9a57-2f1d0f6b8e42")


def run_id_for(origin: str, flow_id: str) -> str:
    """A run's id, derived from what started it (an event's deduplication key, a dead letter) and the flow: a start
    sent twice is one run."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{origin}|{flow_id}"))


@dataclass
class Step:
    flow_id: str
    run_id: str
    node_id: str
    attempt: int = 1
    via: str = "0"
    message: dict[str, Any] | None = None
    flow_version: str | None = None
    start: dict[str, Any] | None = None
    state: dict[str, Any] | None = None  # a run that waited (delay, retry backoff): everything it had so far
    parked: dict[str, str] | None = None  # ... or where that state waits (a long delay's schedule is small)

    @property
    def key(self) -> str:
        """The step's idempotency key within its run (and the range key of its trace)."""
        return f"step#{self.node_id}#{self.attempt:03d}#{self.via}"

    def encode(self) -> str:
        body: dict[str, Any] = {
            "v": STEP_VERSION,
            "flow_id": self.flow_id,
            "run_id": self.run_id,
            "node_id": self.node_id,
            "attempt": self.attempt,
            "via": self.via,
        }
        for name in ("flow_version", "start", "state", "parked"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        body["message"] = self.message if self.message is not None else {}
        return json.dumps(body, separators=(",", ":"), default=str)

    @classmethod
    def decode(cls, body: str) -> "Step":
        raw = json.loads(body)
        if not isinstance(raw, dict) or raw.get("v") != STEP_VERSION:
            raise ValueError("not a flow step (v1)")
        try:
            step = cls(
                flow_id=str(raw["flow_id"]),
                run_id=str(raw["run_id"]),
                node_id=str(raw["node_id"]),
                attempt=int(raw.get("attempt", 1)),
                via=str(raw.get("via", "0")),
                message=raw.get("message"),
                flow_version=raw.get("flow_version"),
                start=raw.get("start"),
                state=raw.get("state"),
                parked=raw.get("parked"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed flow step: {exc}") from None
        if step.message is not None and not isinstance(step.message, dict):
            raise ValueError("malformed flow step: message must be an object")
        if step.attempt < 1 or "#" in step.node_id or "#" in step.via:
            raise ValueError("malformed flow step: bad attempt, node id or path")
        return step


@dataclass
class Outgoing:
    """A step to send, and after how many seconds it may run."""

    step: Step
    delay: int = 0


@dataclass
class NodeResult:
    """What executing a node gives: its trace fields, the next steps and how its path ends (if it does)."""

    ok: bool
    output: Any = None
    error: str | None = None
    next: list[dict[str, Any]] = field(default_factory=list)  # {"node_id", "attempt", "via", "delay"}
    next_message: dict[str, Any] | None = None
    path_end: Literal["ok", "failed"] | None = None
    dead_letter: dict[str, Any] | None = None  # the failed step, when it is dead-lettered
    detail: dict[str, Any] = field(default_factory=dict)  # extra trace fields (retry delay, history ids, ...)


# ------------------------------------------------------------------ dead letters (API)
DeadLetterStatus = Literal["pending", "replayed"]


class DeadLetter(Schema):
    id: str = Field(description="Sortable by the failed run's start")
    flow_id: str
    run_id: str
    node_id: str
    node_type: str
    attempts: int = Field(description="Deliveries tried")
    last_error: str
    failed_at: str
    status: DeadLetterStatus
    message: dict[str, Any] = Field(default_factory=dict, description="The message the step was to deliver")
    integration_id: str | None = None
    device_id: str | None = None
    replayed_at: str | None = None
    replay_run_id: str | None = None


class DeadLetterReplay(Input):
    ids: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)] | None
    ) = Field(
        default=None, description="Dead letters to replay; leave out to replay every pending one (100 at most per call)"
    )


class ReplaySkipped(Schema):
    id: str
    reason: str


class DeadLetterReplayResult(Schema):
    replayed: list[str] = Field(description="Dead letters sent again, each as the first step of a new run")
    run_ids: list[str]
    skipped: list[ReplaySkipped] = Field(default_factory=list)
    more: bool = Field(default=False, description="More pending dead letters than one call replays: call again")
