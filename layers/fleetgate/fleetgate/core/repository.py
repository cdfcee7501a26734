"""PynamoDB plumbing shared by the contexts' repositories: model factories, pages, uniqueness claims.

Model classes are built on first use (not at import), from the table names in
settings, so the environment can be set first. No ``Meta.host``: with
``AWS_ENDPOINT_URL`` set (the local cloud, tests) botocore sends every call
there; without it, to AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.settings import cached, get_settings, table_name

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@cached
def _shared_connection() -> Connection:
    """One botocore client for every table: each extra client costs a service-model load on cold start."""
    return Connection(region=get_settings().region, max_retry_attempts=3)


class BaseModel(Model):
    """Base of every Fleetgate model: all of them share one connection (and so one botocore client)."""

    class Meta:
        abstract = True

    @classmethod
    def _get_connection(cls) -> TableConnection:
        fresh = cls._connection is None or cls._connection.table_name != cls.Meta.table_name
        table = super()._get_connection()
        if fresh:
            shared = _shared_connection()
            _register_table(shared, table.connection.get_meta_table(cls.Meta.table_name))
            table.connection = shared
        return table


def _register_table(shared: Connection, meta_table: Any) -> None:
    """Several models may map one table (e.g. a partial view of the devices table with an index of its own): the
    shared connection keeps one description per table, with the union of their indexes."""
    existing = shared._tables.get(meta_table.table_name)
    if existing is None:
        shared.add_meta_table(meta_table)
        return
    for kind, name in (
        ("GlobalSecondaryIndexes", "IndexName"),
        ("LocalSecondaryIndexes", "IndexName"),
        ("AttributeDefinitions", "AttributeName"),
    ):
        known = existing.data.setdefault(kind, [])
        names = {entry.get(name) for entry in known}
        known.extend(entry for entry in meta_table.data.get(kind) or [] if entry.get(name) not in names)


def meta(table_name: str) -> type:
    settings = get_settings()
    return type("Meta", (), {"table_name": table_name, "region": settings.region, "max_retry_attempts": 3})


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


def gsi(name: str, hash_key: str, range_key: str | None, projection: type) -> type[GlobalSecondaryIndex]:
    """A GlobalSecondaryIndex class over string keys (the pattern of devices/repository.py's ``_index``)."""
    attrs: dict[str, Any] = {
        "Meta": type("Meta", (), {"index_name": name, "projection": projection()}),
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


def owned_model(base: type[OwnedItem], model_name: str, table: str) -> type:
    return type(
        model_name,
        (base,),
        {
            "Meta": meta(table),
            "by_owner": gsi("by_owner", "owner_id", "created_key", AllProjection)(),
            "by_kind": gsi("by_kind", "kind", "created_key", KeysOnlyProjection)(),
        },
    )


def owned_fields(item: Model, exclude: Iterable[str] = ("kind", "created_key")) -> dict[str, Any]:
    return {k: v for k, v in item.attribute_values.items() if k not in exclude}


def batch_get(model: type[Model], keys: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(keys), BATCH_GET_MAX):
        out.extend(model.batch_get(list(keys[start : start + BATCH_GET_MAX])))
    return out


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


def is_conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def batch_get_tables(requests: dict[type[Model], Sequence[Any]]) -> dict[type[Model], list[Any]]:
    """Items of several tables in one BatchGetItem per 100 keys (PynamoDB's batch_get is one table per call).

    ``requests`` maps a model class to its keys (a hash key, or a (hash, range) tuple); returns model
    instances per model class, missing items left out.
    """
    wanted: list[tuple[type[Model], dict[str, Any]]] = []
    by_table: dict[str, type[Model]] = {}
    for model, keys in requests.items():
        hash_attr, range_attr = model._hash_key_attribute(), model._range_key_attribute()
        by_table[model.Meta.table_name] = model
        for key in dict.fromkeys(keys):
            h, r = key if isinstance(key, tuple) else (key, None)
            raw = {hash_attr.attr_name: {hash_attr.attr_type: hash_attr.serialize(h)}}
            if range_attr is not None:
                raw[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(r)}
            wanted.append((model, raw))
    found: dict[type[Model], list[Any]] = {model: [] for model in requests}
    if not wanted:
        return found
    client = _shared_connection().client
    for model in requests:
        model._get_connection()  # registers the table with the shared connection
    for start in range(0, len(wanted), BATCH_GET_MAX):
        pending: dict[str, Any] = {}
        for model, raw in wanted[start : start + BATCH_GET_MAX]:
            pending.setdefault(model.Meta.table_name, {"Keys": [], "ConsistentRead": False})["Keys"].append(raw)
        for _ in range(10):
            if not pending:
                break
            resp = client.batch_get_item(RequestItems=pending)
            for table, items in resp.get("Responses", {}).items():
                found[by_table[table]].extend(by_table[table].from_raw_data(i) for i in items)
            pending = resp.get("UnprocessedKeys") or {}
    return found
