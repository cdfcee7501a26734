"""Functions and their versions in DynamoDB.

- a function by id: FUNCTIONS_TABLE key; a user's, newest first: GSI ``by_owner``; everyone's: GSI ``by_kind``
  (KEYS_ONLY + BatchGetItem), as for devices;
- every version of a function (current included), newest first: FUNCTION_VERSIONS_TABLE key
  (``function_id``, ``version`` number); a pinned version (flow node) is one GetItem.
Create and update write the function and its new version in one transaction, conditioned on the current
version, so concurrent updates cannot lose a version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DeleteError

from fleetgate.core.errors import Conflict, NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    Lookup,
    Transaction,
    get_item,
    is_conditional_failure,
    list_owned,
    owned_fields,
    query_page,
)
from fleetgate.functions.schemas import Function, FunctionCode, FunctionVersion
from fleetgate.functions.tables import FunctionItem, VersionItem
from fleetgate.functions.tables import functions as _functions
from fleetgate.functions.tables import versions as _versions


def _function(item: FunctionItem) -> Function:
    fields = owned_fields(item)
    return Function(**{**fields, "timeout_ms": int(fields["timeout_ms"]), "version": int(fields["version"])})


def _version(item: VersionItem) -> FunctionVersion:
    return FunctionVersion(
        function_id=item.function_id,
        version=int(item.version),
        code=item.code,
        timeout_ms=int(item.timeout_ms),
        entry_point=item.entry_point,
        created_at=item.created_at,
    )


def _version_item(fn: Function, created_at: str) -> VersionItem:
    return _versions()(
        fn.id,
        fn.version,
        owner_id=fn.owner_id,
        code=fn.code,
        timeout_ms=fn.timeout_ms,
        entry_point=fn.entry_point,
        created_at=created_at,
    )


def create(fn: Function) -> None:
    Functions = _functions()
    tx = Transaction(Functions)
    tx.save(
        "function",
        Functions(kind="function", created_key=f"{fn.created_at}#{fn.id}", **fn.model_dump()),
        condition=Functions.id.does_not_exist(),
    )
    tx.save("version", _version_item(fn, fn.created_at), condition=_versions().function_id.does_not_exist())
    if tx.run():
        raise Conflict("Function already exists")


def get(function_id: str) -> Function | None:
    item = get_item(_functions(), function_id)
    return None if item is None else _function(item)


def update(current: Function, changes: dict[str, Any], updated_at: str) -> Function:
    """Apply ``changes``; a changed ``version`` (code or time limit) also stores the new version."""
    Functions = _functions()
    new = current.model_copy(update={**changes, "updated_at": updated_at})
    actions = [getattr(Functions, k).set(v) for k, v in changes.items()] + [Functions.updated_at.set(updated_at)]
    tx = Transaction(Functions)
    tx.update(
        "function",
        Functions(id=current.id),
        actions=actions,
        condition=Functions.id.exists() & (Functions.version == current.version),
    )
    if new.version != current.version:
        tx.save("version", _version_item(new, updated_at), condition=_versions().function_id.does_not_exist())
    failed = tx.run()
    if failed:
        if get(current.id) is None:
            raise NotFound("Function not found")
        raise Conflict("The function was changed by another request; fetch it and try again")
    return new


def delete(fn: Function) -> None:
    Functions, Versions = _functions(), _versions()
    try:
        Functions(id=fn.id).delete(condition=Functions.id.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Function not found") from None
        raise
    with Versions.batch_write() as batch:
        for v in Versions.query(fn.id, attributes_to_get=["function_id", "version"]):
            batch.delete(Versions(v.function_id, v.version))


def list_functions(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Function]:
    return list_owned(_functions(), "function", _function, owner_id, limit=limit, cursor=cursor)


def versions(function_id: str, *, limit: int, cursor: str | None) -> Page[FunctionVersion]:
    return query_page(
        _versions().query,
        _version,
        limit=limit,
        cursor=cursor,
        scope=f"function-versions:{function_id}",
        hash_key=function_id,
    )


def get_version(function_id: str, version: int) -> FunctionVersion | None:
    item = get_item(_versions(), function_id, version)
    return None if item is None else _version(item)


def latest_code(function_ids: Iterable[str]) -> Lookup[dict[str, FunctionCode]]:
    """The current code of each function that exists: function id → code."""
    return Lookup(
        _functions(),
        list(dict.fromkeys(function_ids)),
        lambda found: {i.id: FunctionCode(i.id, int(i.version), i.owner_id, i.code, int(i.timeout_ms)) for i in found},
    )


def version_code(keys: Iterable[tuple[str, int]]) -> Lookup[dict[tuple[str, int], FunctionCode]]:
    """The code of each (function id, version) that exists."""
    return Lookup(
        _versions(),
        list(dict.fromkeys(keys)),
        lambda found: {
            (i.function_id, int(i.version)): FunctionCode(
                i.function_id, int(i.version), i.owner_id, i.code, int(i.timeout_ms)
            )
            for i in found
        },
    )
