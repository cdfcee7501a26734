"""Ingest keys, event deduplication and device presence in DynamoDB.

- ingest keys (INGEST_KEYS_TABLE): by id (the key carries its id: one GetItem per request), a user's newest first
  (GSI ``by_owner``), everyone's (GSI ``by_kind`` + BatchGetItem); the key's secret part only as an HMAC;
- deduplication (INGEST_DEDUP_TABLE): one item per ingested event, claimed with a conditional put, expiring;
- presence, on the devices table (DEVICES_TABLE): ``last_seen``, ``status``, ``battery``, ``location`` and the
  sparse pair ``offline_shard`` / ``offline_due`` (ISO time = last_seen + expected_transmit_time) that GSI
  ``by_offline_due`` indexes, so offline detection is one Query per shard on due time, never a Scan. Updates
  set only these attributes (the device routes may write the others concurrently).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from fleetgate.core.errors import NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    OwnedItem,
    batch_get_tables,
    get_item,
    is_conditional_failure,
    list_owned,
    meta,
    owned_fields,
    owned_model,
    uniques,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.ingest.schemas import IngestKey

OFFLINE_INDEX_ATTRIBUTES = ["owner_id", "dev_eui", "name", "last_seen", "expected_transmit_time"]


class IngestKeyItem(OwnedItem):
    class Meta:
        abstract = True

    key_hash = UnicodeAttribute()
    prefix = UnicodeAttribute()


class DedupItem(BaseModel):
    class Meta:
        abstract = True

    key = UnicodeAttribute(hash_key=True)
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute()


class PresenceItem(BaseModel):
    """The presence attributes of a device item (a partial view of the devices table)."""

    class Meta:
        abstract = True

    id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute(null=True)
    dev_eui = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    last_seen = UnicodeAttribute(null=True)
    expected_transmit_time = NumberAttribute(null=True)
    offline_shard = UnicodeAttribute(null=True)
    offline_due = UnicodeAttribute(null=True)
    battery = JSONAttribute(null=True)
    location = JSONAttribute(null=True)


@cached
def _keys() -> type[IngestKeyItem]:
    return owned_model(IngestKeyItem, "IngestKeyModel", table_name("INGEST_KEYS_TABLE"))


@cached
def _dedup() -> type[DedupItem]:
    return type("IngestDedupModel", (DedupItem,), {"Meta": meta(table_name("INGEST_DEDUP_TABLE"))})


@cached
def _presence() -> type[PresenceItem]:
    index = type(
        "by_offline_due_index",
        (GlobalSecondaryIndex,),
        {
            "Meta": type(
                "Meta", (), {"index_name": "by_offline_due", "projection": IncludeProjection(OFFLINE_INDEX_ATTRIBUTES)}
            ),
            "offline_shard": UnicodeAttribute(hash_key=True),
            "offline_due": UnicodeAttribute(range_key=True),
        },
    )
    return type(
        "DevicePresenceModel", (PresenceItem,), {"Meta": meta(table_name("DEVICES_TABLE")), "by_offline_due": index()}
    )


def _key(item: IngestKeyItem) -> IngestKey:
    return IngestKey(**owned_fields(item, exclude=("kind", "created_key", "key_hash")))


# ---------------------------------------------------------------- keys
def create_key(key: IngestKey, key_hash: str) -> None:
    Keys = _keys()
    Keys(kind="ingest_key", created_key=f"{key.created_at}#{key.id}", key_hash=key_hash, **key.model_dump()).save(
        condition=Keys.id.does_not_exist()
    )


def get_key(key_id: str) -> tuple[IngestKey, str] | None:
    """The key and its stored hash (consistent read: a revoked key stops working at once)."""
    Keys = _keys()
    try:
        item = Keys.get(key_id, consistent_read=True)
    except Keys.DoesNotExist:
        return None
    return _key(item), item.key_hash


def get_key_and_device_id(key_id: str, dev_eui_claim: str) -> tuple[tuple[IngestKey, str] | None, str | None]:
    """The ingest key (and hash) and the id of the device holding a dev_eui claim, in one BatchGetItem."""
    Keys, Claims = _keys(), uniques()
    found = batch_get_tables({Keys: [key_id], Claims: [dev_eui_claim]})
    keys, claims = found.get(Keys, []), found.get(Claims, [])
    key = (_key(keys[0]), keys[0].key_hash) if keys else None
    return key, (claims[0].owner_id if claims else None)


def delete_key(key_id: str) -> None:
    Keys = _keys()
    try:
        Keys(id=key_id).delete(condition=Keys.id.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Ingest key not found") from None
        raise


def list_keys(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[IngestKey]:
    return list_owned(_keys(), "ingest_key", _key, owner_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- deduplication
def claim_event(key: str, received_at: datetime, hours: int) -> bool:
    """True the first time ``key`` is claimed (within ``hours``); False for a duplicate."""
    Dedup = _dedup()
    from fleetgate.core.ids import iso

    try:
        Dedup(key, received_at=iso(received_at), expires_at=received_at + timedelta(hours=hours)).save(
            condition=Dedup.key.does_not_exist()
        )
        return True
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise


# ---------------------------------------------------------------- presence
def mark_seen(device_id: str, last_seen: str, *, online: bool, offline_due: str | None, shard: str | None) -> bool:
    """An uplink: last_seen, status online (unless ``online`` is False: maintenance stays), and the offline due time
    (removed when there is none). False when the device no longer exists."""
    Presence = _presence()
    actions: list[Any] = [Presence.last_seen.set(last_seen)]
    if online:
        actions.append(Presence.status.set("online"))
    if offline_due and shard:
        actions += [Presence.offline_due.set(offline_due), Presence.offline_shard.set(shard)]
    else:
        actions += [Presence.offline_due.remove(), Presence.offline_shard.remove()]
    return _update(device_id, actions)


def set_battery(device_id: str, battery: dict[str, Any]) -> bool:
    Presence = _presence()
    return _update(device_id, [Presence.battery.set(battery)])


def set_location(device_id: str, location: dict[str, Any]) -> bool:
    Presence = _presence()
    return _update(device_id, [Presence.location.set(location)])


def _update(device_id: str, actions: list[Any], condition: Any = None) -> bool:
    Presence = _presence()
    cond = Presence.id.exists() if condition is None else (Presence.id.exists() & condition)
    try:
        Presence(id=device_id).update(actions=actions, condition=cond)
        return True
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def due_devices(shard: str, now: str, limit: int) -> Iterator[PresenceItem]:
    """Online devices of ``shard`` whose offline_due is at or before ``now``, oldest due first."""
    Presence = _presence()
    return Presence.by_offline_due.query(
        shard,
        Presence.offline_due <= now,
        limit=limit,  # type: ignore[attr-defined]
        page_size=min(limit, 100),
    )


def mark_offline(device_id: str, due: str) -> bool:
    """Status offline, off the index, if its due time is still ``due`` (an uplink since then moved it)."""
    Presence = _presence()
    return _update(
        device_id,
        [Presence.status.set("offline"), Presence.offline_due.remove(), Presence.offline_shard.remove()],
        Presence.offline_due == due,
    )


def device_presence(device_id: str) -> PresenceItem | None:
    return get_item(_presence(), device_id)
