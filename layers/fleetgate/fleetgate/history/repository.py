"""Execution history in DynamoDB (table EXECUTIONS_TABLE): function runs, integration calls and flow runs.

A finished flow run is ONE item: its record (status, per-node trace) and, packed with it, the function runs and
integration calls it made, each with an id of its own ("<run's history id>.<8 hex>", derived from the run and
the step, so a run executed again writes the same ids). A function run or an integration call made outside a
finished run (the test routes; a run that waits for a delay or a retry writes what it did so far) is an item of
its own. Writes are the bill of an IoT fleet (every uplink's run is written once; its history is read rarely),
so a run costs one item and one index copy, whatever its nodes; reads pay for the filtering instead.

Keys and access patterns (never a Scan):
- every item: table key (``day`` = yyyy-mm-dd, ``sk`` = history id), the day being the history id's own, so a
  record's key follows from its id alone; ``resource`` ("<kind>#<resource id>") says whose record the item is.
  Everyone's items (admins) are the day partitions, walked back day by day over the retention window;
- a user's items: GSI ``by_owner`` (``owner_id``, ``sk``), projecting only ``refs``: what an item holds records
  of, as "<kind>:<8 hex of the id's hash>" tokens (:func:`ref`). A flow's, a function's or an integration's
  history and a user's (or everyone's) history of one kind are Queries filtered on ``refs`` (on the index: then
  one BatchGetItem for the page's items). One request reads at most :data:`SCAN_CALLS` Queries of
  :data:`SCAN_PAGE` entries, so a page may be short and still have a ``next_cursor``;
- one record (detail routes): GetItem by its id; a call made in a run that holds it: GetItem of the run, whose
  history id is the call's up to its last dot.

History ids sort by start time: "<yyyymmddThhmmssfffZ>-<12 hex>". A record's fields (input, output, the steps of
a flow run, the records of its calls) are kept compressed in ``packed`` (:mod:`fleetgate.core.packing`): one
stream, so the uplink that appears in a run's input and its trace is stored about once, and a call keeps no field
that its trace step holds (its input, output, the body sent: :func:`_slim`); write units are per KB.
Records expire after HISTORY_RETENTION_DAYS through the ``expires_at`` TTL. Large inputs/outputs are cut to keep
an item well under DynamoDB's 400 KB.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import IncludeProjection

from fleetgate.core.errors import InvalidInput
from fleetgate.core.ids import iso, parse_iso
from fleetgate.core.packing import pack, unpack
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.repository import BaseModel, Lookup, batch_get, get_item, gsi, meta
from fleetgate.core.settings import cached, history_retention_days, table_name

T = TypeVar("T")
MAX_FIELD_BYTES = 64 * 1024
DAYS_PER_PAGE = 7
SCAN_PAGE = 250  # entries per Query of a filtered list (index entries ~100 bytes: 250 ≈ 3 read units; an admin's
# list reads whole items of about 1 KB from the day partitions: 250 ≈ 31 read units)
SCAN_CALLS = 6  # Query calls per list request, at most
ENTRIES = "_calls"  # where a run's body keeps the records of the calls it made
# Cursors name their keys: since the table is keyed by day, a cursor of the table keyed by resource reads "Invalid
# cursor" (the family's validation error) under this scope.
CURSORS = "exec2"
SAME_AS_STEP = "$fleetgate.step"  # a call's field that is its trace step's, kept once: {"$fleetgate.step": "input"}

HISTORY_ID = re.compile(r"\d{8}T\d{9}Z-[0-9A-Za-z_-]{1,40}(\.[0-9A-Za-z_-]{1,16})?\Z")  # new_history_id, call_id
KINDS = ("function", "integration", "flow")
STATUSES = {
    "function": ("success", "error"),
    "integration": ("success", "error"),
    "flow": ("success", "partial_success", "error"),
}


class ExecutionItem(BaseModel):
    class Meta:
        abstract = True

    day = UnicodeAttribute(hash_key=True)  # yyyy-mm-dd of the history id (:func:`_day`)
    sk = UnicodeAttribute(range_key=True)  # the history id
    resource = UnicodeAttribute()  # "<kind>#<resource id>"
    owner_id = UnicodeAttribute()
    refs = UnicodeAttribute(null=True)  # "<kind>:<8 hex of the resource id's hash>" of each record it holds
    status = UnicodeAttribute()
    started_at = UnicodeAttribute()
    duration_ms = NumberAttribute()
    record = JSONAttribute(null=True)  # records written before compression
    packed = BinaryAttribute(null=True, legacy_encoding=False)  # the record's JSON, compressed (core.packing)
    expires_at = TTLAttribute(null=True)

    @property
    def kind(self) -> str:
        return self.resource.partition("#")[0]

    @property
    def resource_id(self) -> str:
        return self.resource.partition("#")[2]

    def body(self) -> dict[str, Any]:
        if self.packed is not None:
            return unpack(self.packed)
        return self.record or {}


@cached
def _executions() -> type[ExecutionItem]:
    return type(
        "ExecutionModel",
        (ExecutionItem,),
        {
            "Meta": meta(table_name("EXECUTIONS_TABLE")),
            "by_owner": gsi("by_owner", "owner_id", "sk", IncludeProjection(["refs"]))(),
        },
    )


@dataclass
class Pending:
    """A record gathered for :func:`write` (``record(..., batch=...)``)."""

    kind: str
    resource_id: str
    owner_id: str
    history_id: str
    status: str
    started: datetime
    duration_ms: float
    body: dict[str, Any]

    def plain(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resource_id": self.resource_id,
            "id": self.history_id,
            "status": self.status,
            "started_at": iso(self.started),
            "duration_ms": self.duration_ms,
            "body": self.body,
        }


def new_history_id(started: datetime, suffix: str | None = None) -> str:
    """``suffix`` (12 hex digits) makes the id deterministic, e.g. derived from a flow run's id."""
    started = started.astimezone(UTC)
    return started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z-{suffix or uuid.uuid4().hex[:12]}"


def call_id(run_history_id: str, key: str) -> str:
    """The id of a call (function run, integration call) made in a run: the run's history id and 8 hex digits of
    ``key`` (the step's effect key), so it is the same when the run is executed again."""
    return f"{run_history_id}.{key[:8]}"


def _day(history_id: str) -> str | None:
    """The table partition of a record: the day its history id starts with (None: not a history id)."""
    if not HISTORY_ID.match(history_id):
        return None
    return f"{history_id[:4]}-{history_id[4:6]}-{history_id[6:8]}"


def _run_of(history_id: str) -> str | None:
    run, dot, _ = history_id.rpartition(".")
    return run if dot else None


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


# ================================================================ writing
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
    :func:`new_history_id`, :func:`call_id`) makes the write idempotent: the same record is written again, never a
    second one. With ``batch``, the record is added to it instead, for :func:`write`: there, the calls made in a
    run (ids from :func:`call_id`) are packed into the run's item when the run's record is in the same batch."""
    if kind not in KINDS:
        raise ValueError(f"unknown history kind {kind!r}")
    if status not in STATUSES[kind]:
        raise ValueError(f"a {kind} record's status is one of {', '.join(STATUSES[kind])}, not {status!r}")
    body = {k: _bounded(v) for k, v in details.items() if v is not None}
    pending = Pending(
        kind,
        resource_id,
        owner_id,
        history_id or new_history_id(started),
        status,
        started,
        round(float(duration_ms), 3),
        body,
    )
    if batch is None:
        _item(pending, []).save()
    else:
        batch.append(pending)
    return _plain(kind, resource_id, pending.history_id, status, iso(started), duration_ms, body)


def write(batch: list[Any]) -> None:
    """Write records gathered with ``record(..., batch=...)``: a run's calls go into its item when its record is
    in the batch, the rest are items of their own; BatchWriteItem calls of 25 (unprocessed items are retried;
    keys are deterministic, so writing one twice writes the same record)."""
    if not batch:
        return
    runs = {p.history_id: p for p in batch if p.kind == "flow"}
    calls: dict[str, list[Pending]] = {}
    items: list[ExecutionItem] = []
    for p in batch:
        if p.kind == "flow":
            continue
        run = runs.get(_run_of(p.history_id) or "")
        if run is not None and run.owner_id == p.owner_id:
            calls.setdefault(run.history_id, []).append(p)
        else:
            items.append(_item(p, []))
    items += [_item(run, calls.get(hid, [])) for hid, run in runs.items()]
    with _executions().batch_write() as writer:
        for item in items:
            writer.save(item)


def ref(kind: str, resource_id: str | None = None) -> str:
    """An item's ``refs`` token for a record of ``kind`` (of ``resource_id``): 8 hex digits of the id's hash keep
    the index copies small; a Query filter on it may let another id through, never keep one out (the records read
    are checked by id)."""
    if resource_id is None:
        return f"{kind}:"
    return f"{kind}:{hashlib.sha256(resource_id.encode()).hexdigest()[:8]}"


def _item(p: Pending, calls: list[Pending]) -> ExecutionItem:
    body = dict(p.body)
    if calls:
        steps = {
            s.get("function_history_id") or s.get("integration_history_id"): s
            for s in body.get("steps") or []
            if isinstance(s, dict)
        }
        body[ENTRIES] = [_slim(c, p, steps.get(c.history_id)) for c in calls]
    day = _day(p.history_id)
    if day is None:
        raise ValueError(f"not a history id: {p.history_id!r}")
    return _executions()(
        day,
        p.history_id,
        resource=f"{p.kind}#{p.resource_id}",
        owner_id=p.owner_id,
        refs=" ".join(sorted({ref(p.kind, p.resource_id)} | {ref(c.kind, c.resource_id) for c in calls})),
        status=p.status,
        started_at=iso(p.started),
        duration_ms=p.duration_ms,
        packed=pack(body),
        expires_at=p.started + timedelta(days=history_retention_days()),
    )


def _slim(call: Pending, run: Pending, step: dict[str, Any] | None) -> dict[str, Any]:
    """A call as its run's item keeps it: without what the run says already (its flow and run ids, and a field
    that is its trace step's input or output, marked {SAME_AS_STEP: "input"}); :func:`_whole` puts them back."""
    body = {
        k: v
        for k, v in call.body.items()
        if not (k == "flow_id" and v == run.resource_id) and not (k == "run_id" and v == run.body.get("run_id"))
    }
    if step is not None:
        for field in ("input", "output"):
            if field in body and body[field] == step.get(field):
                body[field] = {SAME_AS_STEP: field}
        request = body.get("request")
        if isinstance(request, dict) and request.get("body") == _sent(step.get("input")):
            body["request"] = {**request, "body": {SAME_AS_STEP: "input"}}
    return {**call.plain(), "body": body}


def _sent(value: Any) -> str | None:
    """The body an integration sends for ``value`` (compact JSON), as the step's input reads back from storage."""
    if value is None:
        return None
    return json.dumps(json.loads(json.dumps(value, default=str)), separators=(",", ":"))


def _whole(call: dict[str, Any], run: ExecutionItem, body: dict[str, Any]) -> dict[str, Any]:
    """A call of a run's item with what :func:`_slim` left out put back."""
    step = next(
        (
            s
            for s in body.get("steps") or []
            if isinstance(s, dict) and call["id"] in (s.get("function_history_id"), s.get("integration_history_id"))
        ),
        {},
    )
    whole = {"flow_id": run.resource_id, **({"run_id": body["run_id"]} if "run_id" in body else {})}
    for field, value in call["body"].items():
        if value == {SAME_AS_STEP: "input"} or value == {SAME_AS_STEP: "output"}:
            value = step.get(value[SAME_AS_STEP])
        elif field == "request" and isinstance(value, dict) and value.get("body") == {SAME_AS_STEP: "input"}:
            value = {**value, "body": _sent(step.get("input"))}
        whole[field] = value
    return whole


def recorded(kind: str, keys: list[tuple[str, str]]) -> Lookup[set[tuple[str, str]]]:
    """Which of these (resource id, history id) records of ``kind`` exist, as a batch read."""
    return Lookup(
        _executions(),
        [(day, hid) for _, hid in dict.fromkeys(keys) if (day := _day(hid)) is not None],
        lambda found: {(i.resource_id, i.sk) for i in found if i.kind == kind},
    )


# ================================================================ reading
def _plain(
    kind: str, resource_id: str, history_id: str, status: str, started_at: str, duration_ms: float, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        **{k: v for k, v in body.items() if k != ENTRIES},
        "id": history_id,
        f"{kind}_id": resource_id,
        "status": status,
        "started_at": started_at,
        "duration_ms": float(duration_ms),
    }


def _records(item: ExecutionItem, kind: str, resource_id: str | None) -> list[dict[str, Any]]:
    """The records of ``kind`` (of ``resource_id``, when given) that ``item`` holds, newest first."""
    body = item.body()
    found = [
        _plain(
            c["kind"], c["resource_id"], c["id"], c["status"], c["started_at"], c["duration_ms"], _whole(c, item, body)
        )
        for c in reversed(body.get(ENTRIES) or [])
        if c["kind"] == kind and resource_id in (None, c["resource_id"])
    ]
    if item.kind == kind and resource_id in (None, item.resource_id):
        found.append(_plain(item.kind, item.resource_id, item.sk, item.status, item.started_at, item.duration_ms, body))
    return found


class _Wanted(NamedTuple, Generic[T]):
    """What a list reads: items whose refs hold ``token`` ("" for any), the records of ``kind`` (of ``resource_id``)
    they hold, converted; ``index_key``: the index's partition key (None: the table's)."""

    token: str
    kind: str
    resource_id: str | None
    convert: Callable[[dict[str, Any]], T]
    index_key: str | None = "owner_id"


def for_resource(
    kind: str,
    resource_id: str,
    owner_id: str,
    convert: Callable[[dict[str, Any]], T],
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """One resource's records, newest first, from its owner's items that hold them."""
    scope = f"{CURSORS}:{kind}#{resource_id}"
    query = partial(_executions().by_owner.query, owner_id)
    wanted = _Wanted(ref(kind, resource_id), kind, resource_id, convert)
    return _read(query, wanted, limit=limit, cursor=cursor, scope=scope)


def for_owner(
    kind: str, owner_id: str, convert: Callable[[dict[str, Any]], T], *, limit: int, cursor: str | None
) -> Page[T]:
    query = partial(_executions().by_owner.query, owner_id)
    scope = f"{CURSORS}-owner:{owner_id}#{kind}"
    return _read(query, _Wanted(ref(kind), kind, None, convert), limit=limit, cursor=cursor, scope=scope)


def everyone(
    kind: str, convert: Callable[[dict[str, Any]], T], *, limit: int, cursor: str | None, today: datetime | None = None
) -> Page[T]:
    """Everyone's records of ``kind``, newest first, walking back through day partitions (at most
    :data:`DAYS_PER_PAGE` per request)."""
    scope = f"{CURSORS}-all:{kind}"
    now = today or datetime.now(UTC)
    state = decode_cursor(cursor, scope) or {}
    try:
        day = parse_iso(state["day"]) if "day" in state else now
    except (TypeError, ValueError):
        raise InvalidInput("Invalid cursor", field="query:cursor") from None
    oldest = now - timedelta(days=history_retention_days() + 1)
    table = _executions()
    wanted = _Wanted(ref(kind), kind, None, convert, None)
    found: list[T] = []
    budget = [SCAN_CALLS]
    for _ in range(DAYS_PER_PAGE):
        if day < oldest or len(found) >= limit or budget[0] <= 0:
            break
        items, state = _scan(partial(table.query, day.strftime("%Y-%m-%d")), wanted, limit - len(found), state, budget)
        found += items
        if state is None:
            day -= timedelta(days=1)
            state = {}
    next_state = {**(state or {}), "day": day.isoformat()} if day >= oldest else None
    return Page(items=found, next_cursor=encode_cursor(next_state, scope))


def _read(query: Callable[..., Any], wanted: _Wanted[T], *, limit: int, cursor: str | None, scope: str) -> Page[T]:
    items, state = _scan(query, wanted, limit, decode_cursor(cursor, scope) or {}, [SCAN_CALLS])
    return Page(items=items, next_cursor=encode_cursor(state, scope))


def _scan(
    query: Callable[..., Any], wanted: _Wanted[T], limit: int, state: dict[str, Any], budget: list[int]
) -> tuple[list[T], dict[str, Any] | None]:
    """Up to ``limit`` records of one partition, newest first, from ``state`` (``key``: the last item read,
    ``skip``: how many records of the next item were shown already). Returns them and the state to go on from
    (None: the partition is done). ``budget`` holds the Query calls left to the request."""
    Executions = _executions()
    key, skip = state.get("key"), int(state.get("skip") or 0)
    keys: list[tuple[tuple[str, str], dict[str, Any]]] = []  # (table key, the key to resume after it)
    held: dict[tuple[str, str], ExecutionItem] = {}
    key_names = ("day", "sk", wanted.index_key) if wanted.index_key else ("day", "sk")
    filters = {"filter_condition": Executions.refs.contains(wanted.token)} if wanted.token else {}
    while len(keys) < limit and budget[0] > 0:
        budget[0] -= 1
        pages = query(scan_index_forward=False, last_evaluated_key=key, page_size=SCAN_PAGE, **filters).page_iter
        page = next(pages)
        for raw in page.get("Items") or []:
            keys.append(((raw["day"]["S"], raw["sk"]["S"]), {k: raw[k] for k in key_names if k in raw}))
            if "packed" in raw or "record" in raw:  # a table Query: the whole item is here already
                held[keys[-1][0]] = Executions.from_raw_data(raw)
            if len(keys) >= limit:
                break
        key = page.get("LastEvaluatedKey")
        if len(keys) >= limit:
            key = keys[-1][1]
        if key is None:
            break
    missing = [k for k, _ in keys if k not in held]
    full = {**held, **({(i.day, i.sk): i for i in batch_get(Executions, missing)} if missing else {})}
    found: list[dict[str, Any]] = []
    resume = state.get("key")
    for n, (table_key, after) in enumerate(keys):
        item = full.get(table_key)
        records = _records(item, wanted.kind, wanted.resource_id) if item is not None else []
        records = records[skip if n == 0 else 0 :]
        room = limit - len(found)
        if len(records) > room:
            shown = room + (skip if n == 0 else 0)
            return _unique(found + records[:room], wanted.convert), {"key": resume, "skip": shown}
        found += records
        resume = after
    return _unique(found, wanted.convert), ({"key": key} if key is not None else None)


def _unique(records: list[dict[str, Any]], convert: Callable[[dict[str, Any]], T]) -> list[T]:
    """Each record once: a call written as an item of its own while its run waited is also packed with the run
    when an invocation of the run is executed again (its SQS message redelivered) and then ends."""
    seen: set[str] = set()
    return [convert(r) for r in records if not (r["id"] in seen or seen.add(r["id"]))]


def get(
    kind: str, resource_id: str, history_id: str, owner_id: str, convert: Callable[[dict[str, Any]], T]
) -> T | None:
    """One record of ``resource_id`` (whose owner is ``owner_id``): its own item, or the run's that made the call."""
    holder = _held(history_id, owner_id)
    if holder is None and kind != "flow":
        holder = _held(_run_of(history_id) or "", owner_id)
    for r in _records(holder, kind, resource_id) if holder is not None else []:
        if r["id"] == history_id:
            return convert(r)
    return None


def _held(history_id: str, owner_id: str) -> ExecutionItem | None:
    day = _day(history_id)
    item = get_item(_executions(), day, history_id) if day is not None else None
    return item if item is not None and item.owner_id == owner_id else None
