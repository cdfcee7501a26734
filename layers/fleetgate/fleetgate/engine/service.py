"""The flow engine's worker: whole runs per SQS message, one history record per run.

Starting runs is :mod:`fleetgate.engine.starts` (ingest's flow starter, offline detection, dead-letter replays):
one message per matching flow, with a run id derived from what started it and the flow. The worker takes an SQS
batch (:func:`handle_batch`):

1. one BatchGetItem for the whole batch: the flows its starts name (a run's graph is the flow as it is when the
   run starts, kept for the run's whole life) and whether each run's history record exists already (a
   redelivered message of a finished run does nothing); then one read of what the runs' nodes use (function
   code, integrations, storages: :class:`fleetgate.engine.nodes.Definitions`), per owner;
2. each run is executed in process, node after node, up to the end, or up to a wait (a delay node, an
   integration retry's backoff, or the invocation's time running out): then its state so far (trace, ended paths,
   the nodes still to run and their messages) goes back to SQS as one message, delayed (SQS up to 15 minutes, an
   EventBridge schedule beyond), and the run goes on from there;
3. at the end of the batch, the history records of every run (function runs, integration calls, and the flow run
   record with its per-node trace for the runs that ended) in BatchWriteItem calls of 25, then the continuations.

Everything a run writes is keyed by the run and the node (history ids, storage points, integration
``Idempotency-Key``s): a run executed again (a redelivered message, a worker that crashed mid-run or before the
records) writes the same items again, never second ones, and a receiver sees the same key. A message whose run
raises is reported as a batch item failure (the others are done); on its last receive (the queue's
maxReceiveCount) the failing node is dead-lettered instead and the run goes on.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.ids import now_iso, parse_iso
from fleetgate.core.observability import count, logger
from fleetgate.core.repository import read_all
from fleetgate.engine import nodes, queues
from fleetgate.engine import repository as repo
from fleetgate.engine.nodes import TRIGGER_TYPES, Definitions, RunContext
from fleetgate.engine.schemas import START, DeadLetter, NodeResult, Outgoing, Step
from fleetgate.engine.settings import flow_max_receive_count, get_engine_settings
from fleetgate.flows import runs as flows
from fleetgate.history import service as history

RESUME = "$resume"  # the node id of a message that resumes a waiting run
STEP_TIME_BUDGET_MS = 40_000  # the longest node: an integration's 30 s timeout, and room to record it
HISTORY_FIELD_BYTES = 4 * 1024
HISTORY_STEPS_BYTES = 56 * 1024  # the flow history record keeps its steps list under 64 KiB
MAX_STEPS_PER_RUN = 1000
DEFAULT_TRIGGER_EVENTS = ("up",)


@dataclass
class Received:
    """One SQS message of the batch."""

    message_id: str
    body: str
    receive_count: int = 1


@dataclass
class _Run:
    """A run being executed: its context, what it did so far and what is left."""

    ctx: RunContext
    message_id: str
    final: bool
    trace: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # node id → output, of the paths that ended well
    errors: list[str] = field(default_factory=list)  # of the paths that failed
    ok: int = 0
    failed: int = 0
    work: list[dict[str, Any]] = field(default_factory=list)  # {node_id, attempt, via, message, not_before}
    executed: int = 0
    resume_at: float = 0.0  # what the message that resumed the run waited for (SQS, a schedule) is due

    def state(self) -> dict[str, Any]:
        c = self.ctx
        return {
            "flow_version": c.flow_version,
            "owner_id": c.owner_id,
            "device_id": c.device_id,
            "started_at": c.started_at,
            "trigger": c.trigger,
            "input": c.input,
            "graph": c.graph,
            "trace": self.trace,
            "outputs": self.outputs,
            "errors": self.errors,
            "paths": [self.ok, self.failed],
            "work": self.work,
            "executed": self.executed,
            "resume_at": min((float(w.get("not_before") or 0) for w in self.work), default=0.0),
        }

    @classmethod
    def resumed(cls, step: Step, state: dict[str, Any], message_id: str, final: bool) -> _Run:
        ctx = RunContext.of(
            run_id=step.run_id,
            flow_id=step.flow_id,
            flow_version=state.get("flow_version"),
            owner_id=state.get("owner_id") or "",
            device_id=state.get("device_id"),
            started_at=state.get("started_at") or now_iso(),
            trigger=state.get("trigger") or {},
            input=state.get("input"),
            graph=state.get("graph") or {},
        )
        ok, failed = (state.get("paths") or [0, 0])[:2]
        return cls(
            ctx=ctx,
            message_id=message_id,
            final=final,
            trace=list(state.get("trace") or []),
            outputs=dict(state.get("outputs") or {}),
            errors=list(state.get("errors") or []),
            ok=int(ok),
            failed=int(failed),
            work=list(state.get("work") or []),
            executed=int(state.get("executed") or 0),
            resume_at=float(state.get("resume_at") or 0),
        )


# ================================================================ the worker
def handle_batch(batch: Sequence[Received], *, remaining_ms: Callable[[], int] = lambda: 900_000) -> list[str]:
    """Execute the runs of one SQS batch. Returns the ids of the messages to redeliver (their runs raised)."""
    steps: list[tuple[Received, Step]] = []
    for received in batch:
        try:
            steps.append((received, Step.decode(received.body)))
        except ValueError as exc:
            logger.error("dropping a message that is not a flow step", extra={"error": str(exc)[:300]})
    runs = _prepare(steps)
    definitions = Definitions()
    definitions.load(r.ctx for r in runs)
    failed: list[str] = []
    records: list[Any] = []
    continuations: list[Outgoing] = []
    for run in runs:
        run.ctx.definitions = definitions
        try:
            waiting = _execute(run, remaining_ms)
            if waiting is None:
                _record(run)
            else:
                continuations.append(_continuation(run, waiting))
        except Exception:
            logger.exception("a flow run failed: its message is redelivered", extra={"run_id": run.ctx.run_id})
            failed.append(run.message_id)
            continue
        records += run.ctx.records
    history.write(records)
    queues.send_steps(continuations)
    return failed


def _prepare(steps: list[tuple[Received, Step]]) -> list[_Run]:
    """The runs of a batch: one BatchGetItem for the flows started and the run records that may exist."""
    final = flow_max_receive_count()
    parked = {}
    for received, step in steps:
        if step.parked is not None:
            parked[received.message_id] = repo.unpark(step.parked["run_id"], step.parked["key"])
    starts = [step.flow_id for _, step in steps if step.start is not None]
    keys = [(step.flow_id, _record_id(step, parked.get(r.message_id))) for r, step in steps]
    done, found = read_all(history.flow_runs_recorded(keys), flows.definitions_lookup(starts))
    runs: list[_Run] = []
    seen: set[str] = set()
    for (received, step), key in zip(steps, keys, strict=True):
        if key in done or step.run_id in seen:  # a run has one message at a time: the others are copies
            logger.info("the run is recorded or running already: a redelivery", extra={"run_id": step.run_id})
            continue
        seen.add(step.run_id)
        is_final = received.receive_count >= final
        if step.start is not None:
            run = _start(step, found.get(step.flow_id), received.message_id, is_final)
        else:
            state = step.state if step.parked is None else parked.get(received.message_id)
            run = None if state is None else _Run.resumed(step, state, received.message_id, is_final)
            if run is None:
                logger.warning("dropping the resume of a run whose state is gone", extra={"run_id": step.run_id})
        if run is not None:
            runs.append(run)
    return runs


def _record_id(step: Step, parked: dict[str, Any] | None) -> str:
    """The id the run's flow history record has (or will have): :func:`nodes.run_history_id`."""
    if step.start is not None:
        return nodes.run_history_id(step.run_id, step.start.get("received_at"))
    state = step.state or parked or {}
    return nodes.run_history_id(step.run_id, (state.get("trigger") or {}).get("received_at"), state.get("started_at"))


def _received(text: str | None) -> datetime:
    try:
        return parse_iso(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return datetime(2000, 1, 1, tzinfo=UTC)  # no time given: the id still depends on the run id only


def _start(step: Step, flow: Any, message_id: str, final: bool) -> _Run | None:
    start = step.start or {}
    why = None
    if flow is None:
        why = "the flow no longer exists"
    elif flow.owner_id != start.get("owner_id"):
        why = "the flow belongs to someone else"
    elif not flow.enabled and not start.get("replay_of"):
        why = "the flow is disabled"
    matched: list[str] = []
    if why is None and step.node_id == START:
        event = start.get("event", "up")
        by_id = {n["id"]: n for n in flow.nodes}
        matched = [
            n
            for n in start.get("trigger_nodes") or []
            if n in by_id
            and by_id[n]["type"] in TRIGGER_TYPES
            and event in (by_id[n].get("events") or DEFAULT_TRIGGER_EVENTS)
        ]
        if not matched:
            why = f"no trigger node of the flow listens to {event} events"
    if why is not None:
        logger.info("not starting a run", extra={"flow_id": step.flow_id, "run_id": step.run_id, "reason": why})
        return None
    trigger = {
        k: v
        for k, v in {
            "event": start.get("event"),
            "device_id": start.get("device_id"),
            "dev_eui": start.get("dev_eui"),
            "nodes": matched,
            "triggers": start.get("triggers"),
            "replay_of": start.get("replay_of"),
            "flow_version": flow.updated_at,
            "received_at": start.get("received_at"),
        }.items()
        if v not in (None, [])
    }
    ctx = RunContext.of(
        run_id=step.run_id,
        flow_id=flow.id,
        flow_version=flow.updated_at,
        owner_id=flow.owner_id,
        device_id=start.get("device_id"),
        started_at=now_iso(),
        trigger=trigger,
        input=_bounded(step.message or {}, HISTORY_FIELD_BYTES * 4),
        graph={"nodes": flow.nodes, "edges": flow.edges},
    )
    first = {"node_id": step.node_id, "attempt": 1, "via": "0", "message": step.message or {}}
    return _Run(ctx=ctx, message_id=message_id, final=final, work=[first])


# ---------------------------------------------------------------- executing a run
def _execute(run: _Run, remaining_ms: Callable[[], int]) -> list[dict[str, Any]] | None:
    """Run every node that is due, in order; None when the run ended, else what is left (waiting)."""
    now = max(time.time(), run.resume_at)  # clocks differ: what the message waited for is due
    due = deque(w for w in run.work if float(w.get("not_before") or 0) <= now)
    waiting = [w for w in run.work if float(w.get("not_before") or 0) > now]
    while due:
        if remaining_ms() < STEP_TIME_BUDGET_MS or run.executed >= MAX_STEPS_PER_RUN:
            if run.executed >= MAX_STEPS_PER_RUN:
                raise RuntimeError(f"the run executed {MAX_STEPS_PER_RUN} nodes: a loop?")
            waiting += list(due)  # not enough time left in this invocation: goes on in the next one
            break
        item = due.popleft()
        step = Step(
            flow_id=run.ctx.flow_id,
            run_id=run.ctx.run_id,
            node_id=item["node_id"],
            attempt=int(item.get("attempt") or 1),
            via=str(item.get("via") or "0"),
        )
        message = item.get("message") or {}
        result, started_at, duration_ms = _node(run, step, message)
        run.executed += 1
        _trace(run, step, message, result, started_at, duration_ms)
        for n in result.next:
            child = {"node_id": n["node_id"], "attempt": n["attempt"], "via": n["via"], "message": result.next_message}
            delay = int(n.get("delay") or 0)
            if delay > 0:
                waiting.append({**child, "not_before": round(time.time() + delay, 3)})
            else:
                due.append(child)
    run.work = waiting
    return waiting or None


def _node(run: _Run, step: Step, message: dict[str, Any]) -> tuple[NodeResult, str, float]:
    try:
        result, started_at, duration_ms = nodes.timed(lambda: nodes.execute(run.ctx, step, message))
        result = _fit(result)
    except Exception as exc:
        if not run.final:
            raise
        logger.exception("a node failed on its message's last receive: dead-lettered", extra={"step": step.key})
        error = f"the worker failed on this node on every receive, last: {type(exc).__name__}: {exc}"[:1000]
        result = NodeResult(
            ok=False,
            error=error,
            path_end="failed",
            dead_letter={
                "node_type": nodes.node_type(run.ctx, step.node_id),
                "attempts": step.attempt,
                "last_error": error,
                "message": message,
            },
        )
        started_at, duration_ms = now_iso(), 0.0
    if result.dead_letter:
        _dead_letter(run.ctx, step, result.dead_letter)
    return result, started_at, duration_ms


def _trace(
    run: _Run, step: Step, message: dict[str, Any], result: NodeResult, started_at: str, duration_ms: float
) -> None:
    entry = {
        "node_id": step.node_id,
        "type": nodes.node_type(run.ctx, step.node_id),
        "attempt": step.attempt,
        "status": "success" if result.ok else "error",
        "started_at": started_at,
        "duration_ms": duration_ms,
        "input": _bounded(message, HISTORY_FIELD_BYTES),
        "output": _bounded(result.output, HISTORY_FIELD_BYTES),
    }
    if result.error:
        entry["error"] = result.error
    entry.update(result.detail or {})
    run.trace.append(entry)
    if result.path_end == "ok":
        run.ok += 1
        run.outputs[step.node_id] = _bounded(result.output, HISTORY_FIELD_BYTES)
    elif result.path_end == "failed":
        run.failed += 1
        run.errors.append(result.error or "failed")


def _fit(result: NodeResult) -> NodeResult:
    """A message the next nodes could not receive after a wait (over SQS's 256 KiB) fails the path here."""
    if result.next and result.next_message is not None:
        size = nodes.size_of(result.next_message)
        if size > queues.MAX_STEP_BYTES // 2:
            return NodeResult(
                ok=False,
                output=result.output,
                detail=result.detail,
                path_end="failed",
                error=f"the message is {size // 1024} KiB: too large to pass on (SQS: 256 KiB)",
            )
    return result


def _continuation(run: _Run, waiting: list[dict[str, Any]]) -> Outgoing:
    """The message that resumes ``run`` when the first of its waiting nodes is due."""
    delay = max(0, int(min(float(w.get("not_before") or 0) for w in waiting) - time.time() + 0.999))
    step = Step(flow_id=run.ctx.flow_id, run_id=run.ctx.run_id, node_id=RESUME, flow_version=run.ctx.flow_version)
    step.state = run.state()
    # A schedule's input is small, and an SQS message holds 256 KiB (several large messages waiting at once may
    # not fit): the state then waits in the runs table and the step says where.
    if delay > get_engine_settings().sqs_delay_limit or len(step.encode().encode()) > queues.MAX_STEP_BYTES:
        key = f"wait#{run.executed:04d}#{waiting[0]['node_id']}"
        repo.park(run.ctx.run_id, key, step.state)
        step.state, step.parked = None, {"run_id": run.ctx.run_id, "key": key}
    return Outgoing(step, delay)


# ---------------------------------------------------------------- dead letters (worker side)
def _dead_letter(run: RunContext, step: Step, info: dict[str, Any]) -> None:
    digest = nodes.effect_key(run, step)[:12]
    started = run.received.strftime("%Y%m%dT%H%M%S")
    letter = DeadLetter(
        id=f"{started}-{digest}",
        flow_id=run.flow_id,
        run_id=run.run_id,
        node_id=step.node_id,
        node_type=info.get("node_type") or nodes.node_type(run, step.node_id),
        attempts=int(info.get("attempts") or step.attempt),
        last_error=str(info.get("last_error") or "failed")[:2000],
        failed_at=now_iso(),
        status="pending",
        message=info.get("message") or {},
        integration_id=info.get("integration_id"),
        device_id=run.device_id,
    )
    repo.put_dead_letter(letter, run.owner_id)
    count("DeadLetters")
    queues.send_dead_letter(
        {
            "dead_letter": letter.model_dump(exclude={"message"}),
            "step": step.key,
            "message": letter.message if nodes.size_of(letter.message) < 200_000 else None,
        }
    )
    logger.warning(
        "FlowStepFailed: dead-lettered",
        extra={"flow_id": run.flow_id, "run_id": run.run_id, "node_id": step.node_id, "dead_letter_id": letter.id},
    )


# ---------------------------------------------------------------- the run's record
def _record(run: _Run) -> None:
    """The run ended: its flow history record (status, per-node trace), added to the run's records."""
    ctx = run.ctx
    ok, failed = run.ok, run.failed
    status = "success" if failed == 0 else ("error" if ok == 0 else "partial_success")
    error = None
    if run.errors:
        first = run.errors[0]
        error = first if failed == 1 and ok == 0 else f"{failed} of {ok + failed} paths failed; first: {first}"
    started = _received(ctx.started_at)
    now = datetime.now(UTC)
    history.record_flow_run(
        flow_id=ctx.flow_id,
        owner_id=ctx.owner_id,
        status=status,
        started=started,
        duration_ms=max(0.0, (now - started).total_seconds() * 1000),
        trigger=dict(ctx.trigger),
        input=ctx.input,
        output=run.outputs or None,
        steps=_history_steps(run.trace),
        error=error,
        run_id=ctx.run_id,
        history_id=ctx.history_id,
        batch=ctx.records,
    )
    count("FlowRuns", status=status)
    logger.info(
        "flow run ended", extra={"flow_id": ctx.flow_id, "run_id": ctx.run_id, "status": status, "steps": run.executed}
    )


def _history_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace, kept under DynamoDB's limits: smaller excerpts first, then no inputs/outputs at all."""
    shown = steps
    for limit in (HISTORY_FIELD_BYTES, 1024, 0):
        shown = [
            {**s, "input": _bounded(s.get("input"), limit), "output": _bounded(s.get("output"), limit)}
            if limit
            else {k: v for k, v in s.items() if k not in ("input", "output")}
            for s in steps
        ]
        if nodes.size_of(shown) <= HISTORY_STEPS_BYTES:
            return shown
    return shown[-200:]


def _bounded(value: Any, limit: int) -> Any:
    if value is None:
        return None
    text = json.dumps(value, separators=(",", ":"), default=str)
    if len(text.encode()) <= limit:
        return value
    return {"truncated": True, "bytes": len(text.encode()), "excerpt": text[: max(256, limit // 2)]}
