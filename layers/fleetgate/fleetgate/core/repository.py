"""PynamoDB plumbing shared by the contexts' repositories: model factories, pages, uniqueness claims.

Model classes are built on first use (not at import), from the table names in
settings, so the environment can be set first. No ``Meta.host``: with
``AWS_ENDPOINT_URL`` set (the local cloud, tests) botocore sends every call
there; without it, to AWS.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.settings import cached, get_settings

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
            shared.add_meta_table(table.connection.get_meta_table(cls.Meta.table_name))
            table.connection = shared
        return table


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
    return type("UniqueClaimModel", (UniqueClaim,), {"Meta": meta(get_settings().tables.uniques)})


def query_page(query: Callable[..., Iterable[M]], convert: Callable[[M], T], *, limit: int,
               cursor: str | None, scope: str, **kwargs: Any) -> Page[T]:
    """Run one paginated PynamoDB query (newest first) and wrap it as a :class:`Page`."""
    results = query(limit=limit, page_size=limit, last_evaluated_key=decode_cursor(cursor, scope),
                     scan_index_forward=False, **kwargs)
    items = [convert(m) for m in results]
    last_key = results.last_evaluated_key if len(items) >= limit else None  # type: ignore[attr-defined]
    return Page(items=items, next_cursor=encode_cursor(last_key, scope))


class Transaction:
    """A TransactWriteItems whose items have names, so a cancellation says which condition failed.

    PynamoDB sends condition checks, deletes, puts and then updates, whatever the
    order they were added in; the names are listed in that same order to map
    DynamoDB's cancellation reasons back to them.
    """

    _ORDER = ("delete", "save", "update")

    def __init__(self, model: type[Model]):
        self._connection = model._get_connection().connection
        self._ops: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []

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
            failed = {names[i] for i, r in enumerate(reasons)
                      if r is not None and r.code == "ConditionalCheckFailed" and i < len(names)}
            if not failed:
                raise
            return failed
