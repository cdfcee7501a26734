"""Ingest logic: ingesting ChirpStack / Helium events (authenticated by an ingest key, see
:mod:`fleetgate.ingest.keys`), offline detection.

Ingesting one event, in order: the key (401, nothing stored, when it is missing or wrong), the body (415 for
protobuf, 422 for anything else we cannot read), then the device by dev_eui. An unknown device (or someone
else's) is answered 202 "ignored" and recorded in the key owner's device history as ``unknown_device``. A known
device's event is claimed by its deduplication key (a copy is 202 "duplicate", not processed again) and
written to device history, in one conditional write when its sender stamped it (ChirpStack v4's ``time``,
Helium's ``reported_at``: the history entry, keyed by that time and an id derived from the deduplication key, is
the claim), else a claim in the deduplication table, then the entry; then, by event: ``up`` sets last_seen,
status online and the offline due time and starts the device's flows: the matching flows are stored in the
claiming write (an outbox) and sent to SQS by the flow starter from that table's stream, so an accepted uplink
runs its flows even when SQS fails;
``status`` stores the battery fields on the device, ``location`` the location; join, log, ack and txack are
history only.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetgate.core.cache import MISSING, TtlCache
from fleetgate.core.errors import DomainError
from fleetgate.core.ids import iso, new_id, parse_iso, utc_now
from fleetgate.core.observability import count, logger
from fleetgate.core.repository import read_all
from fleetgate.devices import presence
from fleetgate.devices import service as devices
from fleetgate.devices.schemas import Device, DeviceHistoryEntry
from fleetgate.engine import starts as engine
from fleetgate.ingest import keys, parsing, repository
from fleetgate.ingest.schemas import IngestResult
from fleetgate.ingest.settings import get_ingest_settings

MAX_OFFLINE_PER_RUN = 1000
CACHE_SECONDS = 60  # how long a warm instance trusts a key it read (a revoked key works for at most this long)

CLOCK_SKEW = timedelta(minutes=1)  # how far ahead of ours a sender's clock may be for its time to key history
HISTORY_IDS = uuid.UUID("6f1c2a9e-3b7d-4e15-9a0c-5d2f8e7b4c31")  # namespace of history ids derived from dedup keys

_keys: TtlCache[Any] = TtlCache(CACHE_SECONDS)  # key id → (key, hash)
_devices: TtlCache[str] = TtlCache(CACHE_SECONDS)  # dev_eui → device id


# ================================================================ ingest
def ingest(*, api_key: str | None, event: str | None, body: bytes, content_type: str | None) -> IngestResult:
    key_id, secret = keys.split(api_key)
    try:
        parsed = parsing.parse(body, content_type, event)
    except DomainError as problem:  # authentication still comes first: 401 before 415 / 422
        keys.check(key_id, secret)
        raise problem from None
    owner_id, device = _key_and_device(key_id, secret, parsed.dev_eui)
    received = utc_now()
    received_at = iso(received)
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
    at = _event_time(parsed, received)
    # an event its sender stamped is claimed by its history entry itself (keyed by that time and an id derived
    # from the deduplication key): one conditional write; the others by a claim, then the entry
    history_id = str(uuid.uuid5(HISTORY_IDS, dedup_key)) if at else new_id()
    starts = None
    if parsed.event == "up":  # the outbox: the flows to start, in the claiming write
        starts = engine.plan(
            device_id=device.id,
            owner_id=device.owner_id,
            dev_eui=device.dev_eui,
            event="up",
            message=_uplink_message(device, parsed, received_at, history_id),
            origin=dedup_key,
        )
    flow_count = len(starts["flows"]) if starts else 0
    outbox = starts if flow_count else None
    data = {**parsed.data, "format": parsed.format}
    if parsed.source_time:
        data["source_time"] = parsed.source_time
    entry = DeviceHistoryEntry(
        id=history_id, device_id=device.id, event=parsed.event, received_at=received_at, data=data
    )
    if at:
        accepted = devices.record_history(entry, device.owner_id, at=at, outbox=outbox)
    else:
        accepted = repository.claim_event(dedup_key, received, get_ingest_settings().dedup_hours, starts=outbox)
        if accepted:
            devices.record_history(entry, device.owner_id)
    if not accepted:
        count("UplinksDuplicate")
        return result.model_copy(
            update={"status": "duplicate", "reason": "already ingested (same deduplication id): not processed again"}
        )
    count("UplinksAccepted")
    result = result.model_copy(update={"history_id": entry.id})
    if parsed.event == "up":
        presence.seen(device, received)
        result = result.model_copy(update={"flows_triggered": flow_count})
    elif parsed.event == "status":
        presence.record_status(device.id, {**parsed.battery, "updated_at": received_at})
    elif parsed.event == "location":
        presence.record_location(device.id, {**parsed.location, "updated_at": received_at})
    return result


def _key_and_device(key_id: str, secret: str, dev_eui: str, *, cached: bool = True) -> tuple[str, Device | None]:
    """The key's owner (401 when the key is wrong) and the device registered with ``dev_eui``. A warm instance
    remembers keys and dev_euis' device ids for :data:`CACHE_SECONDS` (then: the device's GetItem only); what it
    does not know is read in one BatchGetItem (the key and the dev_eui claim) first."""
    found = _keys.get(key_id) if cached else MISSING
    device_id = _devices.get(dev_eui) if cached else MISSING
    lookups = [keys.lookup(key_id)] if found is MISSING else []
    lookups += [devices.device_id_by_eui(dev_eui)] if device_id is MISSING else []
    if lookups:
        answers = read_all(*lookups)
        if found is MISSING:
            found = answers.pop(0)
            if found is not None:
                _keys.put(key_id, found)
        if device_id is MISSING:
            device_id = answers.pop(0)
            if device_id is not None:  # an unknown dev_eui is asked again: a device registered now counts at once
                _devices.put(dev_eui, device_id)
    owner_id = keys.owner(found, secret)
    device = devices.device_by_id(device_id) if device_id else None
    if cached and (device is None or device.dev_eui != dev_eui) and device_id is not None:
        _devices.drop(dev_eui)  # the device was deleted or its dev_eui moved since: ask again
        return _key_and_device(key_id, secret, dev_eui, cached=False)
    return owner_id, device


def _event_time(parsed: parsing.DeviceEvent, received: datetime) -> str | None:
    """The event's own time as its sender stamped it (ChirpStack v4's ``time``, Helium's ``reported_at``),
    normalized: what keys its history entry, so that the entry is its claim. None when it has none (ChirpStack
    v3), it cannot be read, or it is not within the deduplication window before now (up to :data:`CLOCK_SKEW`
    ahead): a copy of the event within the window is then keyed the same, and a clock far off does not move
    the entry in the device's history."""
    try:
        at = parse_iso(parsed.source_time) if parsed.source_time else None
    except (TypeError, ValueError):
        return None
    if at is None or not received - timedelta(hours=get_ingest_settings().dedup_hours) <= at <= received + CLOCK_SKEW:
        return None
    return iso(at)


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
    Query per shard of the offline_due index (due devices only), then per device its newest history entries (an
    uplink whose presence ingest did not write moves the due time instead), a conditional update (an uplink in
    between wins), an ``offline`` history entry and its flows (those with an offline trigger run).
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
            last = presence.last_uplink(item.id)
            if due is not None and last is not None and last > (item.last_seen or ""):
                due = presence.catch_up(item, last)  # an uplink whose presence was not written (see presence.seen)
                item = item._replace(last_seen=last, offline_due=due)
                if due > at:
                    continue
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
