"""Flow runs, step traces and dead letters in DynamoDB. The only module of the engine that knows DynamoDB.

FLOW_RUNS_TABLE, one partition per run (``run_id``):
- ``sk = "run"``: the run: the flow graph it runs (a snapshot), its owner, trigger and input, and the counters:
  ``outstanding`` (steps sent and not yet completed), ``paths_ok`` / ``paths_failed`` (paths ended), with
  ``counted`` the set of step keys already counted. Completing a step is ONE UpdateItem: ``ADD outstanding
  :next-1, paths_*, counted {key}`` under ``NOT contains(counted, key)``, returning the new values: a redelivered
  step is never counted twice, and the step that brings ``outstanding`` to 0 settles the run.
- ``sk = "step#<node>#<attempt>#<path>"``: a step's claim, then its trace. Claimed with a conditional put (absent,
  or a claim whose lease ran out: its worker died); finished with the result (input, output, error, duration,
  the next steps and their message) under the claimer's token. A step whose trace is finished is never executed
  again: a redelivery only makes sure it is counted and its next steps are sent.
DEAD_LETTERS_TABLE: (``flow_id``, ``id``), newest first; ``id`` is deterministic per failed step. Pending ones
also carry ``pending`` (their flow id), indexed by the sparse GSI ``by_pending``: replay reads pending ones only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection

from fleetgate.core.pagination import Page
from fleetgate.core.repository import BaseModel, batch_get, get_item, gsi, is_conditional_failure, meta, query_page
from fleetgate.core.settings import cached, flow_run_ttl_hours, history_retention_days, table_name
from fleetgate.engine.schemas import DeadLetter

RUN = "run"
STEP_PREFIX = "step#"


class RunItem(BaseModel):
    class Meta:
        abstract = True

    run_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    flow_id = UnicodeAttribute(null=True)
    flow_version = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute(null=True)
    device_id = UnicodeAttribute(null=True)
    graph = JSONAttribute(null=True)  # {"nodes": [...], "edges": [...]}
    trigger = JSONAttribute(null=True)
    input = JSONAttribute(null=True)
    started_at = UnicodeAttribute(null=True)
    outstanding = NumberAttribute(null=True)
    paths_ok = NumberAttribute(null=True)
    paths_failed = NumberAttribute(null=True)
    counted = UnicodeSetAttribute(null=True)
    status = UnicodeAttribute(null=True)
    history_id = UnicodeAttribute(null=True)
    settled_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class TraceItem(BaseModel):
    class Meta:
        abstract = True

    run_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    node_id = UnicodeAttribute(null=True)
    node_type = UnicodeAttribute(null=True)
    attempt = NumberAttribute(null=True)
    status = UnicodeAttribute(null=True)  # running | done
    lease_token = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)  # epoch seconds
    started_at = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute(null=True)
    ok = BooleanAttribute(null=True)
    input = JSONAttribute(null=True)
    output = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    next = JSONAttribute(null=True)
    next_message = JSONAttribute(null=True)
    path_end = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class DeadLetterItem(BaseModel):
    class Meta:
        abstract = True

    flow_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()
    node_id = UnicodeAttribute()
    node_type = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    attempts = NumberAttribute()
    last_error = UnicodeAttribute()
    failed_at = UnicodeAttribute()
    status = UnicodeAttribute()
    message = JSONAttribute(default=dict)
    integration_id = UnicodeAttribute(null=True)
    device_id = UnicodeAttribute(null=True)
    replayed_at = UnicodeAttribute(null=True)
    replay_run_id = UnicodeAttribute(null=True)
    pending = UnicodeAttribute(null=True)  # the flow id while pending: GSI by_pending holds only pending ones
    expires_at = TTLAttribute(null=True)


@cached
def _runs() -> type[RunItem]:
    return type("FlowRunModel", (RunItem,), {"Meta": meta(table_name("FLOW_RUNS_TABLE"))})


@cached
def _traces() -> type[TraceItem]:
    return type("FlowTraceModel", (TraceItem,), {"Meta": meta(table_name("FLOW_RUNS_TABLE"))})


@cached
def _dead_letters() -> type[DeadLetterItem]:
    return type(
        "DeadLetterModel",
        (DeadLetterItem,),
        {
            "Meta": meta(table_name("DEAD_LETTERS_TABLE")),
            "by_pending": gsi("by_pending", "pending", "id", AllProjection)(),
        },
    )


def _expires(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(hours=flow_run_ttl_hours())


# ---------------------------------------------------------------- runs
def create_run(fields: dict[str, Any]) -> bool:
    """Store a new run with one outstanding step; False when it exists (a redelivered first step)."""
    Runs = _runs()
    try:
        Runs(
            fields["run_id"],
            RUN,
            outstanding=1,
            paths_ok=0,
            paths_failed=0,
            expires_at=_expires(),
            **{k: v for k, v in fields.items() if k != "run_id"},
        ).save(condition=Runs.run_id.does_not_exist())
        return True
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def get_run(run_id: str) -> RunItem | None:
    Runs = _runs()
    try:
        return Runs.get(run_id, RUN, consistent_read=True)
    except Runs.DoesNotExist:
        return None


def count_step(run_id: str, key: str, delta: int, *, ok: int, failed: int) -> RunItem | None:
    """Complete step ``key``: outstanding += ``delta`` (its next steps - 1), paths ended; the run's new state, or
    None when the step was counted before (a redelivery)."""
    Runs = _runs()
    item = Runs(run_id, RUN)
    actions = [Runs.outstanding.add(delta), Runs.counted.add({key})]
    if ok:
        actions.append(Runs.paths_ok.add(ok))
    if failed:
        actions.append(Runs.paths_failed.add(failed))
    try:
        item.update(actions=actions, condition=Runs.run_id.exists() & ~Runs.counted.contains(key))
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return item


def mark_settled(run_id: str, status: str, history_id: str, settled_at: str) -> None:
    Runs = _runs()
    Runs(run_id, RUN).update(
        actions=[Runs.status.set(status), Runs.history_id.set(history_id), Runs.settled_at.set(settled_at)]
    )


# ---------------------------------------------------------------- step claims and traces
def claim_step(
    run_id: str,
    key: str,
    *,
    token: str,
    lease_seconds: float,
    node_id: str,
    node_type: str,
    attempt: int,
    started_at: str,
) -> TraceItem | None:
    """Claim step ``key`` for this worker. None when claimed; else the existing trace (finished, or running under
    a live lease held by another worker)."""
    Traces = _traces()
    now = time.time()
    claim = Traces(
        run_id,
        key,
        node_id=node_id,
        node_type=node_type,
        attempt=attempt,
        status="running",
        lease_token=token,
        lease_until=round(now + lease_seconds, 3),
        started_at=started_at,
        expires_at=_expires(),
    )
    try:
        claim.save(
            condition=Traces.sk.does_not_exist() | ((Traces.status == "running") & (Traces.lease_until < round(now, 3)))
        )
        return None
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise
    existing = get_item(Traces, run_id, key)
    if existing is None:  # gone between the two calls (expired): claim again, once
        claim.save(condition=Traces.sk.does_not_exist())
        return None
    return existing


def get_trace(run_id: str, key: str) -> TraceItem | None:
    Traces = _traces()
    try:
        return Traces.get(run_id, key, consistent_read=True)
    except Traces.DoesNotExist:
        return None


def finish_step(run_id: str, key: str, *, token: str, fields: dict[str, Any]) -> bool:
    """Record the step's result; False when this worker's claim was taken over (its lease ran out)."""
    Traces = _traces()
    actions = [Traces.status.set("done"), Traces.lease_until.remove()]
    for name, value in fields.items():
        attr = getattr(Traces, name)
        actions.append(attr.remove() if value is None else attr.set(value))
    try:
        Traces(run_id, key).update(actions=actions, condition=Traces.lease_token == token)
        return True
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def release_step(run_id: str, key: str, token: str) -> None:
    """Give a claim up at once (the step failed unexpectedly): a redelivery may claim it without waiting."""
    Traces = _traces()
    try:
        Traces(run_id, key).update(
            actions=[Traces.lease_until.set(0)], condition=(Traces.lease_token == token) & (Traces.status == "running")
        )
    except UpdateError:
        pass  # best effort: the lease runs out anyway


def traces(run_id: str) -> list[TraceItem]:
    Traces = _traces()
    return list(Traces.query(run_id, Traces.sk.startswith(STEP_PREFIX), consistent_read=True))


# ---------------------------------------------------------------- dead letters
def _dead_letter(item: DeadLetterItem) -> DeadLetter:
    return DeadLetter(
        id=item.id,
        flow_id=item.flow_id,
        run_id=item.run_id,
        node_id=item.node_id,
        node_type=item.node_type,
        attempts=int(item.attempts),
        last_error=item.last_error,
        failed_at=item.failed_at,
        status=item.status,
        message=item.message or {},
        integration_id=item.integration_id,
        device_id=item.device_id,
        replayed_at=item.replayed_at,
        replay_run_id=item.replay_run_id,
    )


def put_dead_letter(letter: DeadLetter, owner_id: str) -> None:
    """Idempotent: the id is deterministic per failed step, so a re-executed step writes the same item."""
    Letters = _dead_letters()
    retention = timedelta(days=history_retention_days())
    Letters(
        letter.flow_id,
        letter.id,
        owner_id=owner_id,
        expires_at=datetime.now(UTC) + retention,
        pending=letter.flow_id if letter.status == "pending" else None,
        **letter.model_dump(exclude={"flow_id", "id"}, exclude_none=True),
    ).save()


def list_dead_letters(flow_id: str, status: str | None, *, limit: int, cursor: str | None) -> Page[DeadLetter]:
    Letters = _dead_letters()
    scope = f"dead-letters:{flow_id}:{status or '*'}"
    if status == "pending":
        return query_page(
            Letters.by_pending.query,
            _dead_letter,
            limit=limit,
            cursor=cursor,  # type: ignore[attr-defined]
            scope=scope,
            hash_key=flow_id,
        )
    filters = {"filter_condition": Letters.status == status} if status else {}
    return query_page(Letters.query, _dead_letter, limit=limit, cursor=cursor, scope=scope, hash_key=flow_id, **filters)


def get_dead_letters(flow_id: str, ids: Iterable[str]) -> list[DeadLetter]:
    return [_dead_letter(i) for i in batch_get(_dead_letters(), [(flow_id, i) for i in dict.fromkeys(ids)])]


def pending_dead_letters(flow_id: str, limit: int) -> tuple[list[DeadLetter], bool]:
    """Up to ``limit`` pending dead letters, oldest first, and whether there are more."""
    Letters = _dead_letters()
    found = [
        _dead_letter(i)
        for i in Letters.by_pending.query(
            flow_id,
            limit=limit + 1,  # type: ignore[attr-defined]
            page_size=limit + 1,
        )
    ]
    return found[:limit], len(found) > limit


def mark_replayed(flow_id: str, letter_id: str, run_id: str, at: str) -> bool:
    """pending → replayed, once: False when it was not pending (replayed concurrently, or gone)."""
    Letters = _dead_letters()
    try:
        Letters(flow_id, letter_id).update(
            actions=[
                Letters.status.set("replayed"),
                Letters.replayed_at.set(at),
                Letters.replay_run_id.set(run_id),
                Letters.pending.remove(),
            ],
            condition=Letters.id.exists() & (Letters.status == "pending"),
        )
        return True
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
