"""PynamoDB plumbing shared by the contexts' repositories: model factories, pages, uniqueness claims.

Model classes are built on first use (not at import), from the table names in
settings, so the environment can be set first. No ``Meta.host``: with
``AWS_ENDPOINT_URL`` set (the local cloud, tests) botocore sends every call
there; without it, to AWS.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PutError, TableError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from fleetgate.core.errors import ServiceUnavailable
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.settings import cached, get_settings, table_name

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@cached
def shared_connection() -> Connection:
    """One botocore client for every table: each extra client costs a service-model load on cold start."""
    return Connection(region=get_settings().region, max_retry_attempts=3)


@cached
def service_client(service: str) -> Any:
    """A botocore client of another AWS service (SQS, Scheduler) from the shared connection's session: no boto3
    import, one session's loaders for every service; built on first use, so functions that never call it never
    create it."""
    from botocore.config import Config

    return shared_connection().session.create_client(
        service,
        region_name=get_settings().region,
        config=Config(retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=10),
    )


class BaseModel(Model):
    """Base of every Fleetgate model: all of them share one connection (and so one botocore client)."""

    class Meta:
        abstract = True

    @classmethod
    def _get_connection(cls) -> TableConnection:
        fresh = cls._connection is None or cls._connection.table_name != cls.Meta.table_name
        table = super()._get_connection()
        if fresh:
            shared = shared_connection()
            try:  # two views of one table (a flow run and its step traces) register it once
                shared.get_meta_table(cls.Meta.table_name)
            except TableError:
                shared.add_meta_table(table.connection.get_meta_table(cls.Meta.table_name))
            table.connection = shared
        return table


def meta(table_name: str) -> type:
    return type("Meta", (), {"table_name": table_name, "region": get_settings().region, "max_retry_attempts": 3})


class UniqueClaim(BaseModel):
    """Template: one item per unique value (``email#…``, ``username#…``, ``dev_eui#…``, ``label#owner#name``)."""

    class Meta:
        abstract = True

    key = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()  # the id of the entity holding the value


@cached
def uniques() -> type[UniqueClaim]:
    return type("UniqueClaimModel", (UniqueClaim,), {"Meta": meta(table_name("UNIQUES_TABLE"))})


def query_page(
    query: Callable[..., Iterable[M]],
    convert: Callable[[M], T],
    *,
    limit: int,
    cursor: str | None,
    scope: str,
    **kwargs: Any,
) -> Page[T]:
    """Run one paginated PynamoDB query (newest first) and wrap it as a :class:`Page`."""
    results = query(
        limit=limit,
        page_size=limit,
        last_evaluated_key=decode_cursor(cursor, scope),
        scan_index_forward=False,
        **kwargs,
    )
    items = [convert(m) for m in results]
    last_key = results.last_evaluated_key if len(items) >= limit else None  # type: ignore[attr-defined]
    return Page(items=items, next_cursor=encode_cursor(last_key, scope))


class Transaction:
    """A TransactWriteItems whose items have names, so a cancellation says which condition failed.

    PynamoDB sends condition checks, deletes, puts and then updates, whatever the
    order they were added in; the names are listed in that same order to map
    DynamoDB's cancellation reasons back to them.
    """

    _ORDER = ("condition_check", "delete", "save", "update")

    def __init__(self, model: type[Model]):
        self._connection = model._get_connection().connection
        self._ops: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []

    def check(self, name: str, model: type[Model], hash_key: Any, range_key: Any, condition: Condition) -> None:
        """A condition on an item the transaction does not write (e.g. "the parent still exists")."""
        model._get_connection()  # registers the table with the shared connection
        self._ops.append(("condition_check", name, (model, hash_key, range_key), {"condition": condition}))

    def save(self, name: str, item: Model, condition: Condition | None = None) -> None:
        self._ops.append(("save", name, (item,), {"condition": condition}))

    def delete(self, name: str, item: Model, condition: Condition | None = None) -> None:
        self._ops.append(("delete", name, (item,), {"condition": condition}))

    def update(self, name: str, item: Model, actions: list[Action], condition: Condition | None = None) -> None:
        self._ops.append(("update", name, (item,), {"actions": actions, "condition": condition}))

    def run(self) -> set[str]:
        """Commit. Returns the names whose condition failed (empty when committed); other failures raise."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                for kind, _, args, kwargs in self._ops:
                    getattr(tx, kind)(*args, **kwargs)
            return set()
        except TransactWriteError as exc:
            names = [name for kind in self._ORDER for k, name, _, _ in self._ops if k == kind]
            reasons = exc.cancellation_reasons or []
            failed = {
                names[i]
                for i, r in enumerate(reasons)
                if r is not None and r.code == "ConditionalCheckFailed" and i < len(names)
            }
            if not failed:
                raise
            return failed


# ---------------------------------------------------------------- owned resources (device-manager contexts)

BATCH_GET_MAX = 100


def gsi(name: str, hash_key: str, range_key: str | None, projection: Any) -> type[GlobalSecondaryIndex]:
    """A GlobalSecondaryIndex class over string keys; ``projection`` a projection class or instance."""
    attrs: dict[str, Any] = {
        "Meta": type(
            "Meta", (), {"index_name": name, "projection": projection() if isinstance(projection, type) else projection}
        ),
        hash_key: UnicodeAttribute(hash_key=True),
    }
    if range_key:
        attrs[range_key] = UnicodeAttribute(range_key=True)
    return type(f"{name}_index", (GlobalSecondaryIndex,), attrs)


class OwnedItem(BaseModel):
    """Template of a user-owned resource: by id (table key), by owner newest first (GSI ``by_owner``), every
    one for admins (GSI ``by_kind``, KEYS_ONLY, then one BatchGetItem per page)."""

    class Meta:
        abstract = True

    id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    created_key = UnicodeAttribute()  # "<created_at>#<id>": newest-first order, unique
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")


def owned_model(base: type[OwnedItem], model_name: str, table: str, **indexes: GlobalSecondaryIndex) -> type:
    """An owned resource's model class, with its ``by_owner`` and ``by_kind`` indexes and any others given."""
    return type(
        model_name,
        (base,),
        {
            "Meta": meta(table),
            "by_owner": gsi("by_owner", "owner_id", "created_key", AllProjection)(),
            "by_kind": gsi("by_kind", "kind", "created_key", KeysOnlyProjection)(),
            **indexes,
        },
    )


def owned_fields(item: Model, exclude: Iterable[str] = ("kind", "created_key")) -> dict[str, Any]:
    return {k: v for k, v in item.attribute_values.items() if k not in exclude}


def batch_get(model: type[M], keys: Sequence[Any]) -> list[M]:
    """The items of ``model`` with these keys (a hash key, or a (hash, range) tuple), missing ones left out."""
    return Lookup(model, keys, lambda found: found).get()


def get_item(model: type[M], *key: Any) -> M | None:
    try:
        return model.get(*key)
    except model.DoesNotExist:
        return None


def list_owned(
    model: type[OwnedItem],
    kind: str,
    convert: Callable[[Any], T],
    owner_id: str | None,
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """A user's resources (``owner_id``) or everyone's (None, for admins), newest first."""
    if owner_id is not None:
        return query_page(
            model.by_owner.query,
            convert,
            limit=limit,
            cursor=cursor,  # type: ignore[attr-defined]
            scope=f"{kind}s:{owner_id}",
            hash_key=owner_id,
        )
    keys = query_page(
        model.by_kind.query,
        lambda m: m.id,
        limit=limit,
        cursor=cursor,  # type: ignore[attr-defined]
        scope=f"{kind}s:*",
        hash_key=kind,
    )
    found = {i.id: i for i in batch_get(model, keys.items)}
    return Page(items=[convert(found[k]) for k in keys.items if k in found], next_cursor=keys.next_cursor)


def owners(model: type[OwnedItem], ids: Iterable[str]) -> Lookup[dict[str, str]]:
    """Which of ``ids`` exist and who owns each: id → owner id, missing ones left out."""
    return Lookup(model, list(dict.fromkeys(ids)), lambda found: {i.id: i.owner_id for i in found})


def owned_by(
    model: type[OwnedItem], ids: Iterable[str], owner_id: str, convert: Callable[[Any], T]
) -> Lookup[dict[str, T]]:
    """The items of ``ids`` that exist and belong to ``owner_id``, converted: id → item (a caller that already knows
    the owner, like a flow run, needs no other check: someone else's item is left out exactly like a missing one)."""
    return Lookup(
        model, list(dict.fromkeys(ids)), lambda found: {i.id: convert(i) for i in found if i.owner_id == owner_id}
    )


def is_conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def save_if(item: Model, condition: Condition) -> bool:
    """Put ``item`` if ``condition`` holds: False when it does not (a claim taken, a newer copy stored)."""
    try:
        item.save(condition=condition)
        return True
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise


# ---------------------------------------------------------------- batch reads across tables and contexts
BATCH_GET_ATTEMPTS = 6  # one BatchGetItem and up to 5 retries of its unprocessed keys
BATCH_GET_BACKOFF = 0.05  # seconds: the first retry waits up to this, doubling each time ("full jitter")
BATCH_GET_BACKOFF_CAP = 1.0


class ReadIncomplete(ServiceUnavailable):
    """DynamoDB left keys of a BatchGetItem unprocessed (throttling) through every retry."""


class Lookup(NamedTuple, Generic[T]):
    """One context's batch read: the keys of its model to read, and the answer to make of the items found.

    A context's repository builds it and its service hands it out (``owners(ids)``, ``device_id_by_eui(eui)``),
    so another context can read several contexts' lookups in ONE BatchGetItem (:func:`read_all`) without
    knowing their tables; :meth:`get` reads one alone. A generic NamedTuple, not a frozen dataclass: cheaper to
    define at import (this module is on every function's cold start)."""

    model: type[Model]
    keys: Sequence[Any]  # hash keys, or (hash, range) tuples
    answer: Callable[[list[Any]], T]

    def get(self) -> T:
        return read_all(self)[0]


def read_all(*lookups: Lookup[Any]) -> list[Any]:
    """Every lookup's answer, in order, from one BatchGetItem per 100 keys across all their tables.

    Unprocessed keys (DynamoDB throttling) are retried with exponential backoff and full jitter; keys still
    unprocessed after :data:`BATCH_GET_ATTEMPTS` calls raise :class:`ReadIncomplete`, never a silent miss."""
    models: dict[str, type[Model]] = {}
    wanted: dict[tuple[str, str], dict[str, Any]] = {}  # (table, canonical key) -> the key as DynamoDB takes it
    per_lookup: list[list[tuple[str, str]]] = []
    for lookup in lookups:
        if lookup.keys:
            lookup.model._get_connection()  # registers the table with the shared connection
        table = lookup.model.Meta.table_name
        models[table] = lookup.model
        mine = []
        for key in lookup.keys:
            raw = _raw_key(lookup.model, key)
            mine.append((table, _canonical(raw)))
            wanted.setdefault(mine[-1], raw)
        per_lookup.append(mine)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    requested = list(wanted.items())
    for start in range(0, len(requested), BATCH_GET_MAX):
        pending: dict[str, Any] = {}
        for (table, _), raw in requested[start : start + BATCH_GET_MAX]:
            pending.setdefault(table, {"Keys": [], "ConsistentRead": False})["Keys"].append(raw)
        for table, item in _batch_get_item(pending):
            names = _key_names(models[table])
            found[(table, _canonical({name: item[name] for name in names}))] = item
    return [
        lookup.answer([lookup.model.from_raw_data(found[k]) for k in dict.fromkeys(mine) if k in found])
        for lookup, mine in zip(lookups, per_lookup, strict=True)
    ]


def _key_names(model: type[Model]) -> list[str]:
    names = [model._hash_key_attribute().attr_name]
    if model._range_key_attribute() is not None:
        names.append(model._range_key_attribute().attr_name)
    return names


def _raw_key(model: type[Model], key: Any) -> dict[str, Any]:
    """``key`` (a hash key, or a (hash, range) tuple) as DynamoDB takes it."""
    h, r = key if isinstance(key, tuple) else (key, None)
    hash_attr, range_attr = model._hash_key_attribute(), model._range_key_attribute()
    raw = {hash_attr.attr_name: {hash_attr.attr_type: hash_attr.serialize(h)}}
    if range_attr is not None:
        raw[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(r)}
    return raw


def _canonical(raw: dict[str, Any]) -> str:
    return json.dumps(raw, sort_keys=True, separators=(",", ":"))


def _batch_get_item(request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """One BatchGetItem (at most 100 keys), its unprocessed keys retried with backoff and jitter."""
    client = shared_connection().client
    pending = request
    for attempt in range(BATCH_GET_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(BATCH_GET_BACKOFF_CAP, BATCH_GET_BACKOFF * 2 ** (attempt - 1))))
        resp = client.batch_get_item(RequestItems=pending)
        for table, items in resp.get("Responses", {}).items():
            for item in items:
                yield table, item
        pending = resp.get("UnprocessedKeys") or {}
        if not pending:
            return
    left = sum(len(t.get("Keys", [])) for t in pending.values())
    raise ReadIncomplete(f"DynamoDB is throttling reads ({left} key(s) unprocessed after {BATCH_GET_ATTEMPTS} tries)")
