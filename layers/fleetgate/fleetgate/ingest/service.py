"""Ingest logic: X-API-Key keys, ingesting ChirpStack / Helium events, offline detection.

Keys: ``fgk_<key id>_<secret>``, 32 random bytes of secret. Only ``HMAC-SHA256(INGEST_KEY_SECRET, secret)`` is
stored (a fast keyed hash is right for a high-entropy random key; a password hash would only slow every uplink
down), and the key's id makes its lookup one GetItem. A key ingests for its owner's devices only.

Ingesting one event, in order: the key (401, nothing stored, when it is missing or wrong), the body (415 for
protobuf, 422 for anything else we cannot read), then the device by dev_eui. An unknown device (or someone
else's) is answered 202 "ignored" and recorded in the key owner's device history as ``unknown_device``. A known
device's event is claimed by its deduplication key (a copy is 202 "duplicate", not processed again) and
written to device history; then, by event: ``up`` sets last_seen, status online and the offline due time and
starts the device's flows (one SQS message per flow); ``status`` stores the battery fields on the device,
``location`` the location; join, log, ack and txack are history only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fleetgate.core.access import owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import DomainError, Unauthorized
from fleetgate.core.ids import iso, new_id, now_iso, utc_now
from fleetgate.core.observability import count, logger
from fleetgate.core.pagination import Page
from fleetgate.core.repository import read_all
from fleetgate.core.settings import get_ingest_settings
from fleetgate.devices import presence
from fleetgate.devices import service as devices
from fleetgate.devices.schemas import Device, DeviceHistoryEntry
from fleetgate.engine import service as engine
from fleetgate.ingest import parsing, repository
from fleetgate.ingest.schemas import IngestKey, IngestKeyCreate, IngestKeyCreated, IngestResult

KEY_PREFIX = "fgk"
_KEY = re.compile(r"^fgk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MAX_OFFLINE_PER_RUN = 1000


class InvalidApiKey(Unauthorized):
    challenge = 'ApiKey header="X-API-Key"'


# ================================================================ keys
def _hash(secret: str) -> str:
    return hmac.new(get_ingest_settings().key_secret.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_key(who: Principal, data: IngestKeyCreate) -> IngestKeyCreated:
    key_id, secret, now = new_id(), secrets.token_urlsafe(32), now_iso()
    record = IngestKey(
        id=key_id,
        owner_id=who.user_id,
        name=data.name,
        description=data.description,
        prefix=f"{KEY_PREFIX}_{key_id}_{secret[:4]}",
        created_at=now,
        updated_at=now,
    )
    repository.create_key(record, _hash(secret))
    return IngestKeyCreated(**record.model_dump(), key=f"{KEY_PREFIX}_{key_id}_{secret}")


def list_keys(who: Principal, *, limit: int, cursor: str | None) -> Page[IngestKey]:
    return repository.list_keys(owner_scope(who), limit=limit, cursor=cursor)


def revoke_key(who: Principal, key_id: str) -> None:
    found = repository.get_key(key_id)
    key = visible(who, found[0] if found else None, "Ingest key")
    repository.delete_key(key.id)


def _split(api_key: str | None) -> tuple[str, str]:
    match = _KEY.match((api_key or "").strip())
    if not match:
        raise InvalidApiKey("Missing or invalid X-API-Key" if api_key else "Missing X-API-Key header")
    return match.group(1), match.group(2)


def _owner(found: tuple[IngestKey, str] | None, secret: str) -> str:
    """The owner of a key whose secret matches; 401 otherwise (the same for an unknown and a wrong key)."""
    expected = found[1] if found else "0" * 64
    if not hmac.compare_digest(_hash(secret), expected) or found is None:
        raise InvalidApiKey("Missing or invalid X-API-Key")
    return found[0].owner_id


# ================================================================ ingest
def ingest(*, api_key: str | None, event: str | None, body: bytes, content_type: str | None) -> IngestResult:
    key_id, secret = _split(api_key)
    try:
        parsed = parsing.parse(body, content_type, event)
    except DomainError as problem:  # authentication still comes first: 401 before 415 / 422
        _owner(repository.get_key(key_id), secret)
        raise problem from None
    # the key and the device's dev_eui claim in one BatchGetItem
    found, device_id = read_all(repository.key_lookup(key_id), devices.device_id_by_eui(parsed.dev_eui))
    owner_id = _owner(found, secret)
    received = utc_now()
    received_at = iso(received)
    device = devices.device_by_id(device_id) if device_id else None
    result = IngestResult(
        status="accepted", event=parsed.event, format=parsed.format, dev_eui=parsed.dev_eui, received_at=received_at
    )
    if device is None or device.owner_id != owner_id:
        reason = "unknown device: no device with this dev_eui is registered to the key's owner"
        history_id = _record_unknown(parsed, owner_id, received_at, reason)
        logger.info("uplink from an unknown device", extra={"dev_eui": parsed.dev_eui, "event": parsed.event})
        count("UplinksIgnored")
        return result.model_copy(update={"status": "ignored", "reason": reason, "history_id": history_id})
    result = result.model_copy(update={"device_id": device.id})
    dedup_key = f"{device.id}|{parsed.event}|{parsed.dedup}"
    if not repository.claim_event(dedup_key, received, get_ingest_settings().dedup_hours):
        count("UplinksDuplicate")
        return result.model_copy(
            update={"status": "duplicate", "reason": "already ingested (same deduplication id): not processed again"}
        )
    count("UplinksAccepted")
    data = {**parsed.data, "format": parsed.format}
    if parsed.source_time:
        data["source_time"] = parsed.source_time
    entry = DeviceHistoryEntry(id=new_id(), device_id=device.id, event=parsed.event, received_at=received_at, data=data)
    devices.record_history(entry, device.owner_id)
    result = result.model_copy(update={"history_id": entry.id})
    if parsed.event == "up":
        presence.seen(device, received)
        try:
            flows = engine.start_runs(
                device_id=device.id,
                owner_id=device.owner_id,
                dev_eui=device.dev_eui,
                event="up",
                message=_uplink_message(device, parsed, received_at, entry.id),
                origin=dedup_key,
            )
        except Exception:  # the uplink is stored; ChirpStack would only log a 5xx and never retry
            logger.exception("UplinkReceived: its flows could not be started", extra={"device_id": device.id})
            return result.model_copy(update={"reason": "stored, but its flows could not be started (logged)"})
        result = result.model_copy(update={"flows_triggered": flows})
    elif parsed.event == "status":
        presence.record_status(device.id, {**parsed.battery, "updated_at": received_at})
    elif parsed.event == "location":
        presence.record_location(device.id, {**parsed.location, "updated_at": received_at})
    return result


def _uplink_message(device: Device, parsed: parsing.DeviceEvent, received_at: str, history_id: str) -> dict[str, Any]:
    """What a flow receives for an uplink: the device, the decoded payload in ``data``, radio details."""
    message: dict[str, Any] = {
        "event": "up",
        "device_id": device.id,
        "dev_eui": device.dev_eui,
        "device_name": device.name,
        "received_at": received_at,
        "history_id": history_id,
    }
    message.update(parsed.data)
    message["data"] = parsed.data.get("data") or {}
    message["format"] = parsed.format
    if device.metadata:
        message["metadata"] = device.metadata
    return message


def _record_unknown(parsed: parsing.DeviceEvent, owner_id: str, received_at: str, reason: str) -> str:
    entry = DeviceHistoryEntry(
        id=new_id(),
        device_id=f"unknown:{parsed.dev_eui}",
        event="unknown_device",
        received_at=received_at,
        data={
            "dev_eui": parsed.dev_eui,
            "event": parsed.event,
            "format": parsed.format,
            "device_name": parsed.device_name,
            "reason": reason,
        },
    )
    devices.record_history(entry, owner_id)
    return entry.id


# ================================================================ offline detection
def detect_offline(
    now: datetime | None = None, *, deadline: float | None = None, limit: int = MAX_OFFLINE_PER_RUN
) -> dict[str, Any]:
    """Mark offline every online device whose last_seen + expected_transmit_time is at or before ``now``: one
    Query per shard of the offline_due index (due devices only), then per device a conditional update (an
    uplink in between wins), an ``offline`` history entry and its flows (those with an offline trigger run).
    ``deadline`` (time.monotonic()) stops early; the rest is due next time."""
    now = now or datetime.now(UTC)
    at = iso(now)
    marked, flows, stopped = 0, 0, False
    for shard in presence.shards():
        # one more than the room left: a due device beyond the limit means this run is not complete
        for item in presence.due(shard, at, limit - marked + 1):
            if marked >= limit or (deadline is not None and time.monotonic() > deadline):
                stopped = True
                break
            due = item.offline_due
            if due is None or not presence.mark_offline(item.id, due):
                continue
            marked += 1
            ett = item.expected_transmit_time
            entry = DeviceHistoryEntry(
                id=new_id(),
                device_id=item.id,
                event="offline",
                received_at=at,
                data={"last_seen": item.last_seen, "expected_transmit_time": ett, "offline_due": due},
            )
            devices.record_history(entry, item.owner_id)
            message = {
                "event": "offline",
                "device_id": item.id,
                "dev_eui": item.dev_eui,
                "device_name": item.name,
                "received_at": at,
                "history_id": entry.id,
                "last_seen": item.last_seen,
                "expected_transmit_time": ett,
                "data": {"status": "offline", "last_seen": item.last_seen},
            }
            flows += engine.start_runs(
                device_id=item.id,
                owner_id=item.owner_id,
                dev_eui=item.dev_eui,
                event="offline",
                message=message,
                origin=f"offline|{item.id}|{due}",
            )
        if stopped:
            break
    return {"checked_at": at, "marked_offline": marked, "flows_started": flows, "complete": not stopped}
