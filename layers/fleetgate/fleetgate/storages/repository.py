"""Storage configurations and their time series in DynamoDB.

- configurations: STORAGES_TABLE, by id (key), a user's newest first (GSI ``by_owner``), everyone's (GSI
  ``by_kind`` + BatchGetItem);
- points: STORAGE_DATA_TABLE, partitioned per storage and device (``series`` = "<storage id>#<device id>"),
  sorted by time (``sk`` = "<ISO timestamp>#<point id>"); a time window is a key condition (BETWEEN on ``sk``),
  newest first. All devices of one storage: GSI ``by_storage`` (``storage_id``, ``sk``). Points expire
  ``retention_days`` after their time through the ``expires_at`` TTL; a deleted storage's points are no longer
  reachable and expire the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.indexes import AllProjection

from fleetgate.core.errors import NotFound
from fleetgate.core.ids import iso, new_id
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    Lookup,
    get_item,
    gsi,
    is_conditional_failure,
    list_owned,
    meta,
    owned_by,
    owned_fields,
    query_page,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.storages.schemas import DataPoint, Storage
from fleetgate.storages.tables import StorageItem
from fleetgate.storages.tables import storages as _storages

# Upper bound of a time window's sort key: after any "#<id>" suffix of the same instant.
_END = "#\uffff"


class PointItem(BaseModel):
    class Meta:
        abstract = True

    series = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    storage_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    timestamp = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    expires_at = TTLAttribute(null=True)


@cached
def _points() -> type[PointItem]:
    return type(
        "StoragePointModel",
        (PointItem,),
        {
            "Meta": meta(table_name("STORAGE_DATA_TABLE")),
            "by_storage": gsi("by_storage", "storage_id", "sk", AllProjection)(),
        },
    )


def _storage(item: StorageItem) -> Storage:
    fields = owned_fields(item)
    return Storage(**{**fields, "retention_days": int(fields["retention_days"])})


def _point(item: PointItem) -> DataPoint:
    return DataPoint(
        id=item.id, storage_id=item.storage_id, device_id=item.device_id, timestamp=item.timestamp, data=item.data or {}
    )


def create(storage: Storage) -> None:
    Storages = _storages()
    Storages(kind="storage", created_key=f"{storage.created_at}#{storage.id}", **storage.model_dump()).save(
        condition=Storages.id.does_not_exist()
    )


def get(storage_id: str) -> Storage | None:
    item = get_item(_storages(), storage_id)
    return None if item is None else _storage(item)


def update(current: Storage, changes: dict[str, Any], updated_at: str) -> Storage:
    Storages = _storages()
    actions = [getattr(Storages, k).set(v) for k, v in changes.items()] + [Storages.updated_at.set(updated_at)]
    try:
        Storages(id=current.id).update(actions=actions, condition=Storages.id.exists())
    except UpdateError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Storage not found") from None
        raise
    return current.model_copy(update={**changes, "updated_at": updated_at})


def delete(storage_id: str) -> None:
    Storages = _storages()
    try:
        Storages(id=storage_id).delete(condition=Storages.id.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Storage not found") from None
        raise


def list_storages(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Storage]:
    return list_owned(_storages(), "storage", _storage, owner_id, limit=limit, cursor=cursor)


def write_point(
    storage: Storage, device_id: str, data: dict[str, Any], timestamp: datetime, point_id: str | None = None
) -> DataPoint:
    """Store one point (the flow engine's storage node). ``timestamp`` must be timezone-aware. A given
    ``point_id`` (with the same timestamp) writes the same item again, never a second point."""
    ts = iso(timestamp)
    point = DataPoint(id=point_id or new_id(), storage_id=storage.id, device_id=device_id, timestamp=ts, data=data)
    _points()(
        f"{storage.id}#{device_id}",
        f"{ts}#{point.id}",
        id=point.id,
        storage_id=storage.id,
        device_id=device_id,
        owner_id=storage.owner_id,
        timestamp=ts,
        data=data,
        expires_at=timestamp + timedelta(days=storage.retention_days),
    ).save()
    return point


def read_points(
    storage_id: str, device_id: str | None, *, start: str | None, end: str | None, limit: int, cursor: str | None
) -> Page[DataPoint]:
    """Newest first, within [start, end] (ISO timestamps, inclusive) when given."""
    Points = _points()
    lower, upper = start or "0", (end or "9999") + _END
    condition = Points.sk.between(lower, upper)
    if device_id is not None:
        series = f"{storage_id}#{device_id}"
        return query_page(
            Points.query,
            _point,
            limit=limit,
            cursor=cursor,
            scope=f"points:{series}",
            hash_key=series,
            range_key_condition=condition,
        )
    return query_page(
        Points.by_storage.query,
        _point,
        limit=limit,
        cursor=cursor,  # type: ignore[attr-defined]
        scope=f"points:{storage_id}",
        hash_key=storage_id,
        range_key_condition=condition,
    )


def storages_of(storage_ids: Iterable[str], owner_id: str) -> Lookup[dict[str, Storage]]:
    return owned_by(_storages(), storage_ids, owner_id, _storage)
