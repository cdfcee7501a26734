"""Storage logic: CRUD of configurations, reading a storage's points back, and writing them (the flow engine's
storage nodes, through :func:`write_point`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput
from fleetgate.core.ids import iso, now_iso, parse_iso
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup
from fleetgate.core.schemas import changes
from fleetgate.storages import repository
from fleetgate.storages.schemas import DataPoint, Storage, StorageCreate, StorageUpdate


def create_storage(who: Principal, data: StorageCreate) -> Storage:
    storage = Storage(**new_resource(who), **data.model_dump())
    repository.create(storage)
    return storage


def list_storages(who: Principal, *, limit: int, cursor: str | None) -> Page[Storage]:
    return repository.list_storages(owner_scope(who), limit=limit, cursor=cursor)


def get_storage(who: Principal, storage_id: str) -> Storage:
    return visible(who, repository.get(storage_id), "Storage")


def update_storage(who: Principal, storage_id: str, data: StorageUpdate) -> Storage:
    storage = get_storage(who, storage_id)
    changed = changes(data, storage)
    if not changed:
        return storage
    return repository.update(storage, changed, now_iso())


def delete_storage(who: Principal, storage_id: str) -> None:
    repository.delete(get_storage(who, storage_id).id)


def _instant(value: str | None, name: str) -> str | None:
    """An ISO 8601 time in the stored form (UTC, milliseconds, Z); a date alone means its midnight UTC."""
    if value in (None, ""):
        return None
    try:
        return iso(parse_iso(value))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time, e.g. 2026-11-22T08:00:00Z", field=f"query:{name}"
        ) from None


def read_data(
    who: Principal,
    storage_id: str,
    *,
    device_id: str | None,
    start: str | None,
    end: str | None,
    limit: int,
    cursor: str | None,
) -> Page[DataPoint]:
    storage = get_storage(who, storage_id)
    lower, upper = _instant(start, "from"), _instant(end, "to")
    if lower and upper and lower > upper:
        raise InvalidInput("from must not be after to", field="query:from")
    return repository.read_points(storage.id, device_id or None, start=lower, end=upper, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- for other contexts (flows, the engine)
def storages_of(storage_ids: list[str], owner_id: str) -> dict[str, Storage]:
    """The storages of ``owner_id`` among these ids (one BatchGetItem); missing and other owners' left out."""
    return repository.storages_of(storage_ids, owner_id).get()


def storages_lookup(storage_ids: list[str], owner_id: str) -> Lookup[dict[str, Storage]]:
    """:func:`storages_of` as a batch read, to read with other contexts' in one BatchGetItem."""
    return repository.storages_of(storage_ids, owner_id)


def write_point(
    storage: Storage, device_id: str, data: dict[str, Any], timestamp: datetime, point_id: str | None = None
) -> DataPoint:
    """Store one point of ``device_id`` in ``storage`` at ``timestamp`` (aware); it expires after the storage's
    retention. ``point_id`` (the flow engine's: derived from its run and node) makes writing it again a no-op."""
    return repository.write_point(storage, device_id, data, timestamp, point_id)
