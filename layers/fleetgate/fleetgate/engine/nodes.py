"""Executing one node of a run: what each node type does, and which nodes follow.

Node types are listed in :data:`NODE_TYPES` with their runners: a runner takes the run, the
step (node, attempt, path) and the message, and returns a :class:`NodeResult`. A side-effect node keys what it
writes by its run and node (:func:`effect_key`), so that a run executed again (a redelivered message, a worker
that crashed before recording the run) writes nothing twice: :func:`_storage` is the model.

- ``$start``: the trigger; the message goes to the successors of the trigger nodes that matched;
- ``function``: the user's JavaScript (pinned version, or the latest) transforms the message in the QuickJS
  sandbox; a script error ends the path as failed (no retry: the same code fails the same way);
- ``switch``: its condition picks the "true" or "false" edges; none on that side ends the path (successfully);
- ``integration``: delivers the message (HTTP with an ``Idempotency-Key`` header, or MQTT); a failed delivery is
  retried after the integration's backoff (doubling, at most 900 s) until its ``max_attempts``, then the step is
  dead-lettered and its path failed;
- ``storage``: writes the message's ``data`` (or the message) as a point of the trigger device;
- ``delay``: its successors run ``seconds`` later;
- ``meter``: records the reading (``value``: a path in the message; default ``data.reading``, else the decoded
  payload's only number) of the estates meter linked to the trigger device's DevEUI, keyed by run and node: a
  re-run records and charges nothing (``duplicate``); no linked meter or no number ends the path as failed.
A node's successors receive its output (functions) or its input (all others). The definitions a node uses
(function code, integrations, storages) are read for a whole SQS batch at once (:class:`Definitions`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.errors import DomainError
from fleetgate.core.ids import now_iso, parse_iso
from fleetgate.core.observability import count
from fleetgate.core.repository import read_all
from fleetgate.engine import conditions
from fleetgate.engine.schemas import START, NodeResult, Step
from fleetgate.estates.service import billing
from fleetgate.functions import service as functions
from fleetgate.history import service as history
from fleetgate.integrations import service as integrations
from fleetgate.storages import service as storages

MAX_RETRY_DELAY = 900
TRIGGER_TYPES = ("device", "label")


@dataclass
class Definitions:
    """What the nodes of a batch's runs use, read once for the batch: function code by (id, pinned version),
    integrations and storages by id (each filtered to its run's owner when used)."""

    code: dict[tuple[str, str, int | None], Any] = field(default_factory=dict)  # (owner, id, version) → code
    integrations: dict[tuple[str, str], Any] = field(default_factory=dict)  # (owner, id) → record
    storages: dict[tuple[str, str], Any] = field(default_factory=dict)  # (owner, id) → storage

    def load(self, runs: Iterable[RunContext]) -> None:
        """Read what these runs' graphs reference: per owner, the function code (one BatchGetItem, pinned versions
        cached per instance), integrations and storages (one BatchGetItem for both)."""
        wanted: dict[str, dict[str, set[Any]]] = {}
        for run in runs:
            refs = wanted.setdefault(run.owner_id, {"function": set(), "integration": set(), "storage": set()})
            for node in run.nodes.values():
                kind = node.get("type")
                if kind == "function":
                    pinned = node.get("version")
                    refs["function"].add((node["function_id"], None if pinned is None else int(pinned)))
                elif kind in ("integration", "storage"):
                    refs[kind].add(node[f"{kind}_id"])
        for owner, refs in wanted.items():
            if refs["function"]:
                for (fid, version), code in functions.code_for(sorted(refs["function"], key=str), owner).items():
                    self.code[(owner, fid, version)] = code
            if refs["integration"] or refs["storage"]:
                found_i, found_s = read_all(
                    integrations.delivery_records_lookup(sorted(refs["integration"]), owner),
                    storages.storages_lookup(sorted(refs["storage"]), owner),
                )
                self.integrations.update({(owner, k): v for k, v in found_i.items()})
                self.storages.update({(owner, k): v for k, v in found_s.items()})


@dataclass
class RunContext:
    """A run as the worker executes it: its graph (fixed at its start), what started it, and what it gathered so
    far (its trace, its ended paths, the history records to write with it)."""

    run_id: str
    flow_id: str
    flow_version: str | None
    owner_id: str
    device_id: str | None
    started_at: str
    trigger: dict[str, Any]
    input: Any
    nodes: dict[str, dict[str, Any]]
    edges: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # source → [(target, branch)]
    graph: dict[str, Any] = field(default_factory=dict)
    definitions: Definitions = field(default_factory=Definitions)
    records: list[Any] = field(default_factory=list)  # history records, written with the run's

    @classmethod
    def of(
        cls,
        *,
        run_id: str,
        flow_id: str,
        flow_version: str | None,
        owner_id: str,
        device_id: str | None,
        started_at: str,
        trigger: dict[str, Any],
        input: Any,
        graph: dict[str, Any],
    ) -> RunContext:
        edges: dict[str, list[tuple[str, str | None]]] = {}
        for edge in graph.get("edges") or []:
            edges.setdefault(edge["source"], []).append((edge["target"], edge.get("branch")))
        return cls(
            run_id=run_id,
            flow_id=flow_id,
            flow_version=flow_version,
            owner_id=owner_id,
            device_id=device_id,
            started_at=started_at,
            trigger=trigger,
            input=input,
            nodes={n["id"]: n for n in graph.get("nodes") or []},
            edges=edges,
            graph=graph,
        )

    def successors(self, node_id: str, branch: str | None = None) -> list[str]:
        targets = [t for t, b in self.edges.get(node_id, []) if branch is None or b == branch]
        return list(dict.fromkeys(targets))

    @property
    def received(self) -> datetime:
        """When the event that started the run was received (or the run started): fixed for the run, so the ids
        derived from it are the same when the run is executed again."""
        for text in (self.trigger.get("received_at"), self.started_at):
            try:
                return parse_iso(text)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
        return datetime.now(UTC)

    @property
    def history_id(self) -> str:
        return run_history_id(self.run_id, self.trigger.get("received_at"), self.started_at)


def run_history_id(run_id: str, received_at: str | None, started_at: str | None = None) -> str:
    """The id of a run's flow history record: derived from the run id and when its event was received (else when
    the run started), so the worker can tell a finished run's redelivered message before it runs anything."""
    for text in (received_at, started_at):
        try:
            return history.history_id(parse_iso(text), run_id.replace("-", "")[:12])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return history.history_id(datetime(2000, 1, 1, tzinfo=UTC), run_id.replace("-", "")[:12])


Runner = Callable[[RunContext, Step, dict[str, Any], dict[str, Any]], NodeResult]


def child_via(step: Step) -> str:
    """The path id of the steps that follow ``step``: two paths into one node are two different steps."""
    return hashlib.sha1(f"{step.key}".encode()).hexdigest()[:10]


def effect_key(run: RunContext, step: Step) -> str:
    """What a side effect of ``step`` is keyed by: the same on every execution of the run (32 hex digits)."""
    return hashlib.sha256(f"{run.run_id}|{step.key}".encode()).hexdigest()[:32]


def forward(
    run: RunContext,
    step: Step,
    targets: list[str],
    message: dict[str, Any],
    *,
    output: Any = None,
    delay: int = 0,
    detail: dict[str, Any] | None = None,
) -> NodeResult:
    """The node succeeded: ``message`` goes on to ``targets`` (none: the path ends here, successfully)."""
    via = child_via(step)
    nxt = [{"node_id": t, "attempt": 1, "via": via, "delay": delay} for t in targets]
    return NodeResult(
        ok=True,
        output=message if output is None else output,
        next=nxt,
        next_message=message if nxt else None,
        path_end=None if nxt else "ok",
        detail=detail or {},
    )


def failed(error: str, output: Any = None, detail: dict[str, Any] | None = None) -> NodeResult:
    """The node failed: its path ends as failed (no retry)."""
    return NodeResult(ok=False, output=output, error=error, path_end="failed", detail=detail or {})


def node_type(run: RunContext, node_id: str) -> str:
    return "trigger" if node_id == START else run.nodes.get(node_id, {}).get("type", "unknown")


def execute(run: RunContext, step: Step, message: dict[str, Any]) -> NodeResult:
    if step.node_id == START:
        triggers = run.trigger.get("nodes") or []
        targets = list(dict.fromkeys(t for n in triggers for t in run.successors(n)))
        return forward(run, step, targets, message, output={"trigger_nodes": triggers, "next": targets})
    node = run.nodes.get(step.node_id)
    if node is None:
        return failed(f"node {step.node_id!r} is not in the flow (version {run.flow_version})")
    runner = NODE_TYPES.get(node["type"])
    if runner is None:
        return failed(f"node {step.node_id!r}: a {node['type']} node cannot be executed")
    return runner(run, step, node, message)


# ------------------------------------------------------------------ node types
def _switch(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    branch = "true" if conditions.matches(node, message) else "false"
    return forward(run, step, run.successors(node["id"], branch), message, output={"branch": branch})


def _delay(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    seconds = int(node["seconds"])
    return forward(run, step, run.successors(node["id"]), message, output={"delay_seconds": seconds}, delay=seconds)


def _function(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    function_id, pinned = node["function_id"], node.get("version")
    version = None if pinned is None else int(pinned)
    code = run.definitions.code.get((run.owner_id, function_id, version))
    if code is None:
        return failed(f"function {function_id}" + (f" version {pinned}" if pinned else "") + " not found")
    started = datetime.now(UTC)
    result = functions.execute(code, message)
    recorded = history.record_function_run(
        function_id=function_id,
        owner_id=run.owner_id,
        status="success" if result.ok else "error",
        started=started,
        duration_ms=result.duration_ms,
        input=message,
        output=result.output,
        logs=result.logs,
        error=result.error,
        version=code.version,
        flow_id=run.flow_id,
        run_id=run.run_id,
        history_id=history.call_id(run.history_id, effect_key(run, step)),
        batch=run.records,
    )
    detail = {"function_history_id": recorded.id, "version": code.version}
    if not result.ok or result.output is None:
        where = f" (line {result.error_line})" if result.error_line else ""
        return failed(f"function {function_id}: {result.error}{where}", detail=detail)
    return forward(run, step, run.successors(node["id"]), result.output, detail=detail)


def _integration(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    integration_id = node["integration_id"]
    record = run.definitions.integrations.get((run.owner_id, integration_id))
    if record is None:
        return failed(f"integration {integration_id} not found")
    started = datetime.now(UTC)
    outcome = integrations.send(record, message, headers={"Idempotency-Key": idempotency_key(run, step)})
    recorded = history.record_integration_call(
        integration_id=integration_id,
        owner_id=run.owner_id,
        status="success" if outcome.success else "error",
        started=started,
        duration_ms=outcome.latency_ms,
        request=outcome.request,
        response=outcome.response,
        error=outcome.error,
        flow_id=run.flow_id,
        run_id=run.run_id,
        history_id=history.call_id(run.history_id, effect_key(run, step)),
        batch=run.records,
    )
    output = {
        k: v
        for k, v in (
            ("status_code", outcome.status_code),
            ("response", outcome.response_excerpt),
            ("latency_ms", outcome.latency_ms),
        )
        if v is not None
    }
    detail = {"integration_history_id": recorded.id}
    if outcome.success:
        return forward(run, step, run.successors(node["id"]), message, output=output, detail=detail)
    max_attempts = record.config.max_attempts
    error = f"integration {integration_id}: {outcome.error or 'delivery failed'}"
    if step.attempt < max_attempts:
        backoff = record.config.retry_backoff_seconds
        delay = int(min(MAX_RETRY_DELAY, backoff * 2 ** (step.attempt - 1)))
        retry = {"node_id": step.node_id, "attempt": step.attempt + 1, "via": step.via, "delay": delay}
        count("StepRetries")
        return NodeResult(
            ok=False,
            output=output,
            error=error,
            next=[retry],
            next_message=message,
            detail={**detail, "retry_in_seconds": delay, "max_attempts": max_attempts},
        )
    return NodeResult(
        ok=False,
        output=output,
        error=error,
        path_end="failed",
        detail={**detail, "max_attempts": max_attempts},
        dead_letter={
            "node_type": "integration",
            "integration_id": integration_id,
            "attempts": step.attempt,
            "last_error": error,
            "message": message,
        },
    )


def _storage(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    storage_id = node["storage_id"]
    storage = run.definitions.storages.get((run.owner_id, storage_id))
    if storage is None:
        return failed(f"storage {storage_id} not found")
    data = message["data"] if isinstance(message.get("data"), dict) else message
    point = storages.write_point(
        storage, run.device_id or "unknown", data, _timestamp(message), point_id=effect_key(run, step)
    )
    return forward(
        run, step, run.successors(node["id"]), message, output={"point_id": point.id, "timestamp": point.timestamp}
    )


def _meter(run: RunContext, step: Step, node: dict[str, Any], message: dict[str, Any]) -> NodeResult:
    dev_eui = run.trigger.get("dev_eui") or message.get("dev_eui")
    value = _reading(message, node.get("field"))
    try:
        recorded = billing.record_device_reading(
            str(dev_eui or ""), value, f"{run.run_id}:{step.node_id}:{step.via}", _timestamp(message)
        )
    except DomainError as exc:  # no meter linked to the device, not a number: this node's error, not a crash
        return failed(f"meter: {exc}", detail={"reading": value if isinstance(value, int | float) else None})
    output = {
        "reading_id": recorded.reading_id,
        "meter_id": recorded.meter_id,
        "unit_id": recorded.unit_id,
        "reading_value": recorded.reading_value,
        "consumption": recorded.consumption,
        "cost": recorded.cost,
        "status": recorded.status,
        "duplicate": recorded.duplicate,
    }
    return forward(run, step, run.successors(node["id"]), message, output=output)


def _reading(message: dict[str, Any], path: str | None) -> Any:
    """The reading a meter node records: at ``path`` in the message; by default ``data.reading``, else the decoded
    payload's only number (None when there is none, or several: the node fails saying so)."""
    if path:
        found = conditions.get_path(message, path)
        if found is conditions.MISSING and path.startswith("object."):  # ChirpStack's name for the decoded payload
            found = conditions.get_path(message, "data." + path.removeprefix("object."))
        return None if found is conditions.MISSING else found
    data = message.get("data")
    if not isinstance(data, dict):
        return data
    if "reading" in data:
        return data["reading"]
    numbers = [v for v in data.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    return numbers[0] if len(numbers) == 1 else None


# The node types and their runners. A new node type: its runner above (a side effect keyed by effect_key, like
# _storage), its entry here, and its schema in the flows context's validation.
NODE_TYPES: dict[str, Runner] = {
    "switch": _switch,
    "delay": _delay,
    "function": _function,
    "integration": _integration,
    "storage": _storage,
    "meter": _meter,
}


def _timestamp(message: dict[str, Any]) -> datetime:
    try:
        return parse_iso(message.get("received_at"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return datetime.now(UTC)


def idempotency_key(run: RunContext, step: Step) -> str:
    """The same for every attempt of one delivery (a receiver can drop a retry it already processed)."""
    return f"{run.run_id}:{step.node_id}:{step.via}"


def timed(fn: Callable[[], NodeResult]) -> tuple[NodeResult, str, float]:
    """Run a node; (result, started_at, duration_ms)."""
    started_at, t0 = now_iso(), time.perf_counter()
    result = fn()
    return result, started_at, round((time.perf_counter() - t0) * 1000, 3)


def size_of(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())
