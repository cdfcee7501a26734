"""The flow engine's worker: executing steps, settling runs, dead-lettering failed steps.

A run is a chain of steps, one SQS message each (see :mod:`fleetgate.engine.schemas`). Starting runs is
:func:`fleetgate.engine.starts.start_runs` (ingest, offline detection): the trigger lookups, then ONE message per
matching flow, in batches; everything else happens here, in the flow worker, one step per message
(:func:`handle_step`):

1. the run: from the worker's cache, or the run item; a run's first step creates it from the flow (a snapshot of
   the graph, so a flow edited mid-run does not change the run);
2. the claim: a conditional put of the step's trace item, keyed by run id + node id (+ attempt and path). A step
   already finished is not executed again (a redelivery only completes it: counted once, next steps sent again,
   which their own claims deduplicate); one running under another worker's live lease is left to it;
3. the node runs (:mod:`fleetgate.engine.nodes`), the trace is finished with input, output, error and duration;
4. the run's counters are updated in one conditional UpdateItem (``outstanding += next - 1``, paths ended),
   the next steps are sent, and the step that brings ``outstanding`` to 0 settles the run: status success,
   partial_success or error (every path failed), and the flow history record with the per-node trace, written
   under an id derived from the run id (settling twice writes the same record).

Run ids are deterministic (the uplink's deduplication key + flow id), so a start sent twice is one run.
Failures: integrations retry as new steps after their backoff, then dead-letter (a record listed by the API and
a message on the dead-letter queue); a step that makes the worker raise is reported as a batch item failure and
redelivered; on its last receive (the queue's maxReceiveCount) it is dead-lettered the same way instead.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.ids import iso, now_iso, parse_iso
from fleetgate.core.observability import count, logger
from fleetgate.core.settings import flow_max_receive_count, get_engine_settings, resettable
from fleetgate.engine import nodes, queues
from fleetgate.engine import repository as repo
from fleetgate.engine.nodes import TRIGGER_TYPES, RunContext
from fleetgate.engine.schemas import START, DeadLetter, NodeResult, Outgoing, Step
from fleetgate.flows import runs as flows
from fleetgate.history import service as history

STEP_TIME_BUDGET_MS = 40_000  # the longest step: an integration's 30 s timeout, and room to record it
TRACE_FIELD_BYTES = 32 * 1024
HISTORY_FIELD_BYTES = 4 * 1024
HISTORY_STEPS_BYTES = 56 * 1024  # the flow history record keeps its steps list under 64 KiB
MAX_CACHED_RUNS = 512
DEFAULT_TRIGGER_EVENTS = ("up",)

_runs: OrderedDict[str, RunContext] = resettable(OrderedDict())


class StepInProgress(RuntimeError):
    """Another worker holds the step's claim: the message is redelivered later."""


# ================================================================ the worker
def handle_step(body: str, *, receive_count: int = 1, remaining_ms: int = 900_000) -> str:
    """Execute the step in one SQS message. Returns what happened (for logs and tests): done, duplicate,
    in_progress, skipped, requeued, malformed, taken_over. Raises on unexpected failures and on a step another
    worker has claimed (the message is redelivered), except on its last receive, when a failing step is
    dead-lettered instead and a claimed one is left to its holder."""
    try:
        step = Step.decode(body)
    except ValueError as exc:
        logger.error("dropping a message that is not a flow step", extra={"error": str(exc)[:300]})
        return "malformed"
    if remaining_ms < STEP_TIME_BUDGET_MS:
        queues.requeue(body)  # not enough time left in this invocation: back on the queue, not after a timeout
        return "requeued"
    run = _context(step)
    if run is None:
        return "skipped"
    final = receive_count >= flow_max_receive_count()
    return _run_step(run, step, lease_seconds=remaining_ms / 1000 + 1, final=final, receive_count=receive_count)


# ---------------------------------------------------------------- runs
def _context(step: Step) -> RunContext | None:
    cached = _runs.get(step.run_id)
    if cached is not None:
        _runs.move_to_end(step.run_id)
        return cached
    if step.start is not None:
        return _start_run(step)
    item = repo.get_run(step.run_id)
    if item is None:
        logger.warning(
            "dropping a step of an unknown run (expired?)",
            extra={"run_id": step.run_id, "flow_id": step.flow_id, "node_id": step.node_id},
        )
        return None
    return _remember(_from_item(item))


def _from_item(item: repo.RunItem) -> RunContext:
    return RunContext.of(
        run_id=item.run_id,
        flow_id=item.flow_id or "",
        flow_version=item.flow_version,
        owner_id=item.owner_id or "",
        device_id=item.device_id,
        started_at=item.started_at or "",
        trigger=item.trigger or {},
        input=item.input,
        graph=item.graph or {},
    )


def _remember(run: RunContext) -> RunContext:
    _runs[run.run_id] = run
    while len(_runs) > MAX_CACHED_RUNS:
        _runs.popitem(last=False)
    return run


def _start_run(step: Step) -> RunContext | None:
    start = step.start or {}
    flow = flows.definitions([step.flow_id]).get(step.flow_id)
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
        by_id = {n["id"]: n for n in flow.nodes}  # type: ignore[union-attr]
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
    assert flow is not None
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
    fields = {
        "run_id": step.run_id,
        "flow_id": flow.id,
        "flow_version": flow.updated_at,
        "owner_id": flow.owner_id,
        "device_id": start.get("device_id"),
        "graph": {"nodes": flow.nodes, "edges": flow.edges},
        "trigger": trigger,
        "input": _bounded(step.message or {}, TRACE_FIELD_BYTES),
        "started_at": now_iso(),
    }
    if not repo.create_run(fields):  # a redelivered first step: the run exists
        item = repo.get_run(step.run_id)
        return None if item is None else _remember(_from_item(item))
    return _remember(RunContext.of(graph=fields.pop("graph"), **fields))


# ---------------------------------------------------------------- steps
def _run_step(run: RunContext, step: Step, *, lease_seconds: float, final: bool, receive_count: int) -> str:
    token = uuid.uuid4().hex
    existing = repo.claim_step(
        run.run_id,
        step.key,
        token=token,
        lease_seconds=lease_seconds,
        node_id=step.node_id,
        node_type=nodes.node_type(run, step.node_id),
        attempt=step.attempt,
        started_at=now_iso(),
    )
    if existing is not None:
        if existing.status == "done":
            return _complete(run, step, _Done.of(existing), duplicate=True)
        if final:  # claimed under a live lease: its holder finishes it (its own copy returns if it dies)
            logger.info(
                "step running in another worker; this last copy is dropped",
                extra={"run_id": run.run_id, "step": step.key},
            )
            return "in_progress"
        # Running elsewhere, or its worker died and the lease has not run out yet: try again after the
        # visibility timeout (at least 6 x the function timeout, so by then the lease is over or the step done).
        raise StepInProgress(f"step {step.key} of run {run.run_id} is claimed by another worker")
    message: dict[str, Any] = step.message or {}
    try:
        message = _message(step)
        result, started_at, duration_ms = nodes.timed(lambda: nodes.execute(run, step, message))
        result = _fit(result)
        if result.dead_letter:
            _dead_letter(run, step, result.dead_letter)
    except Exception as exc:
        if not final:
            repo.release_step(run.run_id, step.key, token)
            raise
        logger.exception(
            "step failed on its last receive: dead-lettered",
            extra={"run_id": run.run_id, "step": step.key, "receives": receive_count},
        )
        error = f"the worker failed on this step {receive_count} times, last: {type(exc).__name__}: {exc}"[:1000]
        result = NodeResult(
            ok=False,
            error=error,
            path_end="failed",
            dead_letter={
                "node_type": nodes.node_type(run, step.node_id),
                "attempts": step.attempt,
                "last_error": error,
                "message": message,
            },
        )
        started_at, duration_ms = now_iso(), 0.0
        _dead_letter(run, step, result.dead_letter)  # type: ignore[arg-type]
    done = _Done(ok=result.ok, next=result.next, next_message=result.next_message, path_end=result.path_end)
    fields = {
        "started_at": started_at,
        "duration_ms": duration_ms,
        "ok": result.ok,
        "input": _bounded(message, TRACE_FIELD_BYTES),
        "output": _bounded(result.output, TRACE_FIELD_BYTES),
        "error": result.error,
        "next": result.next or None,
        "next_message": result.next_message,
        "path_end": result.path_end,
        "detail": result.detail or None,
    }
    if not repo.finish_step(run.run_id, step.key, token=token, fields=fields):
        logger.warning("lost the claim of a step to another worker", extra={"run_id": run.run_id, "step": step.key})
        return "taken_over"
    return _complete(run, step, done, duplicate=False)


class _Done:
    """A finished step, as completing it needs it."""

    def __init__(
        self, *, ok: bool, next: list[dict[str, Any]] | None, next_message: dict[str, Any] | None, path_end: str | None
    ):
        self.ok, self.next, self.next_message, self.path_end = ok, list(next or []), next_message, path_end

    @classmethod
    def of(cls, trace: repo.TraceItem) -> _Done:
        return cls(ok=bool(trace.ok), next=trace.next, next_message=trace.next_message, path_end=trace.path_end)


def _complete(run: RunContext, step: Step, done: _Done, *, duplicate: bool) -> str:
    state = repo.count_step(
        run.run_id, step.key, len(done.next) - 1, ok=int(done.path_end == "ok"), failed=int(done.path_end == "failed")
    )
    if state is None:  # counted before: a redelivery after the count
        state = repo.get_run(run.run_id)
        if state is None or state.settled_at:
            return "duplicate"
    _send_next(run, step, done)
    if int(state.outstanding or 0) <= 0:
        _settle(run, state)
    return "duplicate" if duplicate else "done"


def _message(step: Step) -> dict[str, Any]:
    if step.message_ref is None:
        return step.message or {}
    trace = repo.get_trace(step.message_ref["run_id"], step.message_ref["sk"])
    if trace is None or not isinstance(trace.next_message, dict):
        raise LookupError(f"the message of delayed step {step.key} is gone (its run expired?)")
    return trace.next_message


def _send_next(run: RunContext, step: Step, done: _Done) -> None:
    if not done.next:
        return
    limit = get_engine_settings().sqs_delay_limit
    outgoing = []
    for n in done.next:
        child = Step(
            flow_id=run.flow_id,
            run_id=run.run_id,
            node_id=n["node_id"],
            attempt=int(n["attempt"]),
            via=n["via"],
            message=done.next_message,
            flow_version=run.flow_version,
        )
        delay = int(n.get("delay") or 0)
        if delay > limit:  # through a schedule, whose input is small: the message stays in this step's trace
            child.message, child.message_ref = None, {"run_id": run.run_id, "sk": step.key}
        outgoing.append(Outgoing(child, delay))
    queues.send_steps(outgoing)


def _fit(result: NodeResult) -> NodeResult:
    """A message the next steps cannot receive (over SQS's 256 KiB with the envelope) fails the path here."""
    if result.next and result.next_message is not None:
        size = nodes.size_of(result.next_message)
        if size > queues.MAX_STEP_BYTES - 4096:
            return NodeResult(
                ok=False,
                output=result.output,
                detail=result.detail,
                path_end="failed",
                error=f"the message is {size // 1024} KiB: too large to pass on (SQS: 256 KiB)",
            )
    return result


# ---------------------------------------------------------------- dead letters (worker side)
def _dead_letter(run: RunContext, step: Step, info: dict[str, Any]) -> None:
    digest = hashlib.sha256(f"{run.run_id}|{step.key}".encode()).hexdigest()[:12]
    started = run.started_at.replace("-", "").replace(":", "").replace(".", "")
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


# ---------------------------------------------------------------- settling
def _settle(run: RunContext, state: repo.RunItem) -> None:
    ok, failed = int(state.paths_ok or 0), int(state.paths_failed or 0)
    status = "success" if failed == 0 else ("error" if ok == 0 else "partial_success")
    traces = sorted(
        (t for t in repo.traces(run.run_id) if t.status == "done"), key=lambda t: (t.started_at or "", t.sk)
    )
    errors = [t.error for t in traces if t.error and t.path_end == "failed"]
    error = None
    if errors:
        error = errors[0] if failed == 1 and ok == 0 else f"{failed} of {ok + failed} paths failed; first: {errors[0]}"
    started = _parse(run.started_at)
    now = datetime.now(UTC)
    history_id = history.history_id(started, suffix=run.run_id.replace("-", "")[:12])
    trigger = dict(run.trigger)
    history.record_flow_run(
        flow_id=run.flow_id,
        owner_id=run.owner_id,
        status=status,
        started=started,
        duration_ms=max(0.0, (now - started).total_seconds() * 1000),
        trigger=trigger,
        input=_bounded(run.input, HISTORY_FIELD_BYTES * 4),
        output={t.node_id: _bounded(t.output, HISTORY_FIELD_BYTES) for t in traces if t.path_end == "ok"} or None,
        steps=_history_steps(traces),
        error=error,
        run_id=run.run_id,
        history_id=history_id,
    )
    repo.mark_settled(run.run_id, status, history_id, iso(now))
    count("FlowRuns", status=status)
    _runs.pop(run.run_id, None)
    logger.info(
        "flow run settled", extra={"flow_id": run.flow_id, "run_id": run.run_id, "status": status, "steps": len(traces)}
    )


def _history_steps(traces: list[repo.TraceItem]) -> list[dict[str, Any]]:
    steps = []
    for t in traces:
        entry = {
            "node_id": t.node_id,
            "type": t.node_type,
            "attempt": int(t.attempt or 1),
            "status": "success" if t.ok else "error",
            "started_at": t.started_at,
            "duration_ms": float(t.duration_ms or 0),
            "input": t.input,
            "output": t.output,
        }
        if t.error:
            entry["error"] = t.error
        entry.update(t.detail or {})
        steps.append(entry)
    # Keep the record under DynamoDB's limits: smaller excerpts first, then no inputs/outputs at all.
    for limit in (HISTORY_FIELD_BYTES, 1024, 0):
        shown = [
            {**s, "input": _bounded(s["input"], limit), "output": _bounded(s["output"], limit)}
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


def _parse(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError:
        return datetime.now(UTC)
