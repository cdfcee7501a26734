"""Execution history in DynamoDB (table EXECUTIONS_TABLE): one table for function runs, integration calls and
flow runs, told apart by ``kind``.

Keys and access patterns (never a Scan):
- one resource's records, newest first: table key (``resource`` = "<kind>#<resource id>", ``sk`` = history id);
- one record (detail routes): GetItem on the same key: the history id is the range key;
- a user's records of one kind: GSI ``by_owner`` (``owner_kind`` = "<owner id>#<kind>", ``sk``), KEYS_ONLY, then
  one BatchGetItem for the page (a record, a flow run's whole trace, is written once to the table and only its
  keys to each index: index copies cost 1 write unit each, not the record's size);
- everyone's records of one kind (admins): GSI ``by_day`` (``day_kind`` = "<kind>#<yyyy-mm-dd>", ``sk``, KEYS_ONLY
  too), walked back day by day over the retention window, a bounded number of partitions per request (like
  device history); one partition per kind and day keeps the write load of busy fleets off a single hot key.

History ids sort by start time: "<yyyymmddThhmmssfffZ>-<12 hex>". A record's fields (input, output, the steps of
a flow run) are kept zlib-compressed in ``packed``: uplink JSON shrinks about 3×, and write units are per KB.
Records expire after HISTORY_RETENTION_DAYS through the ``expires_at`` TTL. Large inputs/outputs are cut to keep
an item well under DynamoDB's 400 KB.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pynamodb.attributes import BinaryAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import KeysOnlyProjection

from fleetgate.core.errors import InvalidInput
from fleetgate.core.ids import iso, parse_iso
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.repository import BaseModel, Lookup, batch_get, get_item, gsi, meta, query_page
from fleetgate.core.settings import cached, history_retention_days, table_name

T = TypeVar("T")
MAX_FIELD_BYTES = 64 * 1024
DAYS_PER_PAGE = 7
KINDS = ("function", "integration", "flow")
STATUSES = {
    "function": ("success", "error"),
    "integration": ("success", "error"),
    "flow": ("success", "partial_success", "error"),
}


class ExecutionItem(BaseModel):
    class Meta:
        abstract = True

    resource = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    resource_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    owner_kind = UnicodeAttribute()
    day_kind = UnicodeAttribute()
    status = UnicodeAttribute()
    started_at = UnicodeAttribute()
    duration_ms = NumberAttribute()
    record = JSONAttribute(null=True)  # records written before compression
    packed = BinaryAttribute(null=True, legacy_encoding=False)  # the record's JSON, zlib-compressed
    expires_at = TTLAttribute(null=True)

    def body(self) -> dict[str, Any]:
        if self.packed is not None:
            return json.loads(zlib.decompress(self.packed))
        return self.record or {}


@cached
def _executions() -> type[ExecutionItem]:
    return type(
        "ExecutionModel",
        (ExecutionItem,),
        {
            "Meta": meta(table_name("EXECUTIONS_TABLE")),
            "by_owner": gsi("by_owner", "owner_kind", "sk", KeysOnlyProjection)(),
            "by_day": gsi("by_day", "day_kind", "sk", KeysOnlyProjection)(),
        },
    )


def new_history_id(started: datetime, suffix: str | None = None) -> str:
    """``suffix`` (12 hex digits) makes the id deterministic, e.g. derived from a flow run's id."""
    started = started.astimezone(UTC)
    return started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z-{suffix or uuid.uuid4().hex[:12]}"


def _bounded(value: Any) -> Any:
    """A field cut to :data:`MAX_FIELD_BYTES`, keeping its type: a list keeps its first items (console lines get a
    closing note saying how many were dropped), a string its start, anything else becomes an excerpt object."""
    text = json.dumps(value, default=str)
    if len(text.encode()) <= MAX_FIELD_BYTES:
        return value
    if isinstance(value, list):
        kept: list[Any] = []
        size = 2
        for item in value:
            size += len(json.dumps(item, default=str).encode()) + 1
            if size > MAX_FIELD_BYTES - 100:
                break
            kept.append(item)
        if all(isinstance(item, str) for item in value):
            kept.append(f"... {len(value) - len(kept)} more line(s) not kept")
        return kept
    if isinstance(value, str):
        return value.encode()[: MAX_FIELD_BYTES - 100].decode(errors="ignore") + "..."
    return {"truncated": True, "excerpt": text[: MAX_FIELD_BYTES // 2]}


def record(
    kind: str,
    resource_id: str,
    owner_id: str,
    *,
    status: str,
    started: datetime,
    duration_ms: float,
    details: dict[str, Any],
    history_id: str | None = None,
    batch: list[Any] | None = None,
) -> dict[str, Any]:
    """Store one execution record; returns it as the API shows it. A given ``history_id`` (see
    :func:`new_history_id`) makes the write idempotent: the same record is written again, never a second one.
    With ``batch``, the record is added to it instead, for :func:`write` (the flow worker writes a batch's
    records together)."""
    if kind not in KINDS:
        raise ValueError(f"unknown history kind {kind!r}")
    if status not in STATUSES[kind]:
        raise ValueError(f"a {kind} record's status is one of {', '.join(STATUSES[kind])}, not {status!r}")
    Executions = _executions()
    history_id = history_id or new_history_id(started)
    started_at = iso(started)
    body = {k: _bounded(v) for k, v in details.items() if v is not None}
    item = Executions(
        f"{kind}#{resource_id}",
        history_id,
        kind=kind,
        resource_id=resource_id,
        owner_id=owner_id,
        owner_kind=f"{owner_id}#{kind}",
        day_kind=f"{kind}#{started_at[:10]}",
        status=status,
        started_at=started_at,
        duration_ms=round(float(duration_ms), 3),
        packed=zlib.compress(json.dumps(body, separators=(",", ":"), default=str).encode(), 6),
        expires_at=started + timedelta(days=history_retention_days()),
    )
    if batch is None:
        item.save()
    else:
        batch.append(item)
    return _plain(kind, resource_id, history_id, status, started_at, duration_ms, body)


def recorded(kind: str, keys: list[tuple[str, str]]) -> Lookup[set[tuple[str, str]]]:
    """Which of these (resource id, history id) records of ``kind`` exist, as a batch read."""
    return Lookup(
        _executions(),
        [(f"{kind}#{rid}", hid) for rid, hid in dict.fromkeys(keys)],
        lambda found: {(i.resource_id, i.sk) for i in found},
    )


def write(batch: list[Any]) -> None:
    """Write records gathered with ``record(..., batch=...)``: BatchWriteItem calls of 25 (unprocessed items are
    retried; their keys are deterministic, so writing one twice writes the same record)."""
    if not batch:
        return
    with _executions().batch_write() as writer:
        for item in batch:
            writer.save(item)


def _plain(
    kind: str, resource_id: str, history_id: str, status: str, started_at: str, duration_ms: float, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        **body,
        "id": history_id,
        f"{kind}_id": resource_id,
        "status": status,
        "started_at": started_at,
        "duration_ms": float(duration_ms),
    }


def _convert(convert: Callable[[dict[str, Any]], T]) -> Callable[[ExecutionItem], T]:
    return lambda i: convert(_plain(i.kind, i.resource_id, i.sk, i.status, i.started_at, i.duration_ms, i.body()))


def for_resource(
    kind: str, resource_id: str, convert: Callable[[dict[str, Any]], T], *, limit: int, cursor: str | None
) -> Page[T]:
    key = f"{kind}#{resource_id}"
    return query_page(
        _executions().query, _convert(convert), limit=limit, cursor=cursor, scope=f"exec:{key}", hash_key=key
    )


def _whole(keys: list[tuple[str, str]], convert: Callable[[dict[str, Any]], T]) -> list[T]:
    """The records of keys read from a KEYS_ONLY index (one BatchGetItem), in the index's order."""
    found = {(i.resource, i.sk): i for i in batch_get(_executions(), keys)} if keys else {}
    conv = _convert(convert)
    return [conv(found[k]) for k in keys if k in found]


def for_owner(
    kind: str, owner_id: str, convert: Callable[[dict[str, Any]], T], *, limit: int, cursor: str | None
) -> Page[T]:
    key = f"{owner_id}#{kind}"
    keys = query_page(
        _executions().by_owner.query,
        lambda i: (i.resource, i.sk),
        limit=limit,
        cursor=cursor,
        scope=f"exec-owner:{key}",
        hash_key=key,
    )
    return Page(items=_whole(keys.items, convert), next_cursor=keys.next_cursor)


def get(kind: str, resource_id: str, history_id: str, convert: Callable[[dict[str, Any]], T]) -> T | None:
    if len(history_id) > 64:
        return None
    item = get_item(_executions(), f"{kind}#{resource_id}", history_id)
    return None if item is None else _convert(convert)(item)


def everyone(
    kind: str, convert: Callable[[dict[str, Any]], T], *, limit: int, cursor: str | None, today: datetime | None = None
) -> Page[T]:
    """Everyone's records of ``kind``, newest first, walking back through day partitions (at most
    :data:`DAYS_PER_PAGE` per request, so a page may be short and still have a ``next_cursor``)."""
    Executions = _executions()
    scope = f"exec-all:{kind}"
    now = today or datetime.now(UTC)
    state = decode_cursor(cursor, scope) or {}
    try:
        day = parse_iso(state["day"]) if "day" in state else now
    except (TypeError, ValueError):
        raise InvalidInput("Invalid cursor", field="query:cursor") from None
    oldest = now - timedelta(days=history_retention_days() + 1)
    last_key = state.get("key")
    keys: list[tuple[str, str]] = []
    for _ in range(DAYS_PER_PAGE):
        if day < oldest or len(keys) >= limit:
            break
        want = limit - len(keys)
        results = Executions.by_day.query(
            f"{kind}#{day.strftime('%Y-%m-%d')}",
            limit=want,
            page_size=want,
            last_evaluated_key=last_key,
            scan_index_forward=False,
        )
        keys.extend((i.resource, i.sk) for i in results)
        last_key = results.last_evaluated_key
        if last_key is None:
            day -= timedelta(days=1)
    next_state = {"day": day.isoformat(), "key": last_key} if day >= oldest else None
    return Page(items=_whole(keys, convert), next_cursor=encode_cursor(next_state, scope))
