"""Storage logic: CRUD of configurations and reading a storage's points back (writing is the flow engine's,
through :func:`fleetgate.storages.repository.write_point`)."""

from __future__ import annotations

from datetime import UTC, datetime

from fleetgate.core.access import owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput
from fleetgate.core.ids import iso, new_id, now_iso
from fleetgate.core.pagination import Page
from fleetgate.storages import repository
from fleetgate.storages.schemas import DataPoint, Storage, StorageCreate, StorageUpdate


def create_storage(who: Principal, data: StorageCreate) -> Storage:
    now = now_iso()
    storage = Storage(id=new_id(), owner_id=who.user_id, created_at=now, updated_at=now, **data.model_dump())
    repository.create(storage)
    return storage


def list_storages(who: Principal, *, limit: int, cursor: str | None) -> Page[Storage]:
    return repository.list_storages(owner_scope(who), limit=limit, cursor=cursor)


def get_storage(who: Principal, storage_id: str) -> Storage:
    return visible(who, repository.get(storage_id), "Storage")


def update_storage(who: Principal, storage_id: str, data: StorageUpdate) -> Storage:
    storage = get_storage(who, storage_id)
    changes = data.model_dump(exclude_unset=True)
    for required in changes:
        if changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    changes = {k: v for k, v in changes.items() if v != getattr(storage, k)}
    if not changes:
        return storage
    return repository.update(storage, changes, now_iso())


def delete_storage(who: Principal, storage_id: str) -> None:
    repository.delete(get_storage(who, storage_id).id)


def _instant(value: str | None, name: str) -> str | None:
    """An ISO 8601 time in the stored form (UTC, milliseconds, Z); a date alone means its midnight UTC."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time, e.g. 2026-11-22T08:00:00Z", field=f"query:{name}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return iso(parsed)


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
