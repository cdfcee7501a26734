"""Flow runs, step traces and dead letters in DynamoDB. The only module of the engine that knows DynamoDB.

FLOW_RUNS_TABLE: only the runs that wait longer than SQS can delay (an EventBridge schedule's input is small) or
whose state is larger than an SQS message holds: (``run_id``, ``sk`` = the wait's key) holds the run's state,
compressed, until its step brings it back. A run otherwise lives in its SQS messages and ends as one flow history
record (the history context's).
DEAD_LETTERS_TABLE: (``flow_id``, ``id``), newest first; ``id`` is deterministic per failed step. Pending ones
also carry ``pending`` (their flow id), indexed by the sparse GSI ``by_pending``: replay reads pending ones only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection

from fleetgate.core.packing import pack, unpack
from fleetgate.core.pagination import Page
from fleetgate.core.repository import BaseModel, batch_get, get_item, gsi, is_conditional_failure, meta, query_page
from fleetgate.core.settings import cached, history_retention_days, table_name
from fleetgate.engine.schemas import DeadLetter
from fleetgate.engine.settings import flow_run_ttl_hours

RUN = "run"
STEP_PREFIX = "step#"


class ParkedItem(BaseModel):
    class Meta:
        abstract = True

    run_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    state = JSONAttribute(null=True)  # parked before states were compressed
    packed = BinaryAttribute(null=True, legacy_encoding=False)  # the state, compressed (core.packing)
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
def _parked() -> type[ParkedItem]:
    return type("ParkedRunModel", (ParkedItem,), {"Meta": meta(table_name("FLOW_RUNS_TABLE"))})


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


# ---------------------------------------------------------------- parked runs
def park(run_id: str, key: str, state: dict[str, Any]) -> None:
    """Keep the state of a run that waits longer than SQS can delay, or that is larger than an SQS message holds
    (its step carries only the key): compressed, within DynamoDB's 400 KB item."""
    _parked()(run_id, key, packed=pack(state), expires_at=_expires()).save()


def unpark(run_id: str, key: str) -> dict[str, Any] | None:
    item = get_item(_parked(), run_id, key)
    if item is None:
        return None
    return unpack(item.packed) if item.packed is not None else item.state


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
