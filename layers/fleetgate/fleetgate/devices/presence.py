"""Device presence: last seen, online and offline, battery and location, kept on the device item.

Ingest calls :func:`seen` for every uplink and :func:`record_status` / :func:`record_location` for status and
location events; offline detection walks :func:`due` shard by shard and calls :func:`mark_offline`. The offline
due time (last_seen + expected_transmit_time) sits in a sparse index spread over OFFLINE_SHARDS partitions, so a
busy fleet's uplinks do not all write one index key and detection is one Query per shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from fleetgate.core.ids import iso, parse_iso
from fleetgate.core.settings import offline_shards
from fleetgate.devices import repository
from fleetgate.devices.schemas import Device, DuePresence

SEEN_BOUND_SECONDS = 60


def shard_of(device_id: str) -> str:
    digest = hashlib.sha1(device_id.encode()).digest()
    return f"s{int.from_bytes(digest[:4], 'big') % offline_shards()}"


def shards() -> list[str]:
    return [f"s{n}" for n in range(offline_shards())]


def seen(device: Device, received: datetime) -> bool:
    """An uplink: last_seen, status online (a device in maintenance, a status set by hand, stays so) and the
    offline due time when the device has an expected transmit time. False when the device no longer exists.

    Written only when something changes that a reader would notice: the status, or a last_seen older than
    :data:`SEEN_BOUND_SECONDS` (a device GET shows a last_seen at most that much behind; a chatty device costs
    one write per bound, not one per uplink). Offline detection looks for a newer uplink in the device's history
    before it marks a device offline (:func:`catch_up`), so the due time that was not moved never makes a device
    offline early."""
    if _recent(device, received):
        return True
    return write_seen(device, received)


def _recent(device: Device, received: datetime) -> bool:
    if device.status not in ("online", "maintenance") or not device.last_seen:
        return False
    try:
        age = received - parse_iso(device.last_seen)
    except ValueError:
        return False
    return timedelta(0) <= age < timedelta(seconds=SEEN_BOUND_SECONDS)


def write_seen(device: Device, received: datetime) -> bool:
    """Write the presence of an uplink received at ``received`` (see :func:`seen`)."""
    maintenance = device.status == "maintenance"
    due = None
    if device.expected_transmit_time and not maintenance:
        due = iso(received + timedelta(seconds=int(device.expected_transmit_time)))
    return repository.mark_seen(
        device.id, iso(received), online=not maintenance, offline_due=due, shard=shard_of(device.id) if due else None
    )


def record_status(device_id: str, battery: dict[str, Any]) -> bool:
    return repository.set_battery(device_id, battery)


def record_location(device_id: str, location: dict[str, Any]) -> bool:
    return repository.set_location(device_id, location)


def due(shard: str, now: str, limit: int) -> Iterator[DuePresence]:
    """Online devices of ``shard`` whose offline due time is at or before ``now`` (ISO), oldest due first."""
    return repository.due_devices(shard, now, limit)


def last_uplink(device_id: str) -> str | None:
    """When the device's newest uplink in its history was received (one Query of its newest entries)."""
    return repository.last_uplink(device_id)


def catch_up(item: DuePresence, last: str) -> str:
    """The device's newest uplink (``last``) is newer than its stored last_seen (:func:`seen` did not write it):
    record it now. Returns the device's offline due time from it."""
    due = iso(parse_iso(last) + timedelta(seconds=int(item.expected_transmit_time or 0)))
    repository.mark_seen(item.id, last, online=True, offline_due=due, shard=shard_of(item.id))
    return due


def mark_offline(device_id: str, due_at: str) -> bool:
    """Status offline, off the index, if the due time is still ``due_at`` (an uplink since then wins)."""
    return repository.mark_offline(device_id, due_at)
