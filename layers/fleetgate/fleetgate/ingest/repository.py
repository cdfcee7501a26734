"""Ingest keys and event deduplication in DynamoDB.

- ingest keys (INGEST_KEYS_TABLE): by id (the key carries its id: one GetItem per request), a user's newest first
  (GSI ``by_owner``), everyone's (GSI ``by_kind`` + BatchGetItem); the key's secret part only as an HMAC;
- deduplication (INGEST_DEDUP_TABLE): one item per ingested event that its sender did not stamp with a time of
  its own (ChirpStack v3; the others are claimed by their device history entry), claimed with a conditional put,
  expiring. An uplink's claim also carries its pending flow starts (``packed_starts``: the engine's plan,
  compressed, as write units are per KB): the outbox. The table's stream feeds the flow starter, which sends
  them; nothing clears them (they expire with the claim).
Device presence (last seen, online/offline) belongs to the devices context: fleetgate.devices.presence.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import BinaryAttribute, JSONAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError

from fleetgate.core.errors import NotFound
from fleetgate.core.ids import iso
from fleetgate.core.packing import pack, unpack
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    Lookup,
    OwnedItem,
    is_conditional_failure,
    list_owned,
    meta,
    owned_fields,
    owned_model,
    save_if,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.ingest.schemas import IngestKey


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
    starts = JSONAttribute(null=True)  # claims written before the starts were compressed
    packed_starts = BinaryAttribute(null=True, legacy_encoding=False)  # the starts (core.packing)


@cached
def _keys() -> type[IngestKeyItem]:
    return owned_model(IngestKeyItem, "IngestKeyModel", table_name("INGEST_KEYS_TABLE"))


@cached
def _dedup() -> type[DedupItem]:
    return type("IngestDedupModel", (DedupItem,), {"Meta": meta(table_name("INGEST_DEDUP_TABLE"))})


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


def key_lookup(key_id: str) -> Lookup[tuple[IngestKey, str] | None]:
    """The key and its stored hash, as a batch read (ingest reads it with the device's dev_eui claim)."""
    return Lookup(_keys(), [key_id], lambda found: (_key(found[0]), found[0].key_hash) if found else None)


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
def claim_event(key: str, received_at: datetime, hours: int, *, starts: dict[str, Any] | None = None) -> bool:
    """True the first time ``key`` is claimed (within ``hours``); False for a duplicate. ``starts``, stored in
    the same write, are the flow starts the table's stream hands to the flow starter."""
    Dedup = _dedup()
    claim = Dedup(
        key,
        received_at=iso(received_at),
        expires_at=received_at + timedelta(hours=hours),
        packed_starts=None if starts is None else pack(starts),
    )
    return save_if(claim, Dedup.key.does_not_exist())


def pending_starts(image: dict[str, Any]) -> dict[str, Any] | None:
    """The flow starts of a claim, from its stream image (plain values, binary ones base64-encoded as in Lambda's
    event); None when it has none."""
    packed = image.get("packed_starts")
    if isinstance(packed, str | bytes):
        return unpack(base64.b64decode(packed))
    starts = image.get("starts")
    return json.loads(starts) if isinstance(starts, str) else None
