"""Writing Microshare devices: read-modify-write of one whole cluster upstream, serialised per cluster by a DynamoDB
lease, made on a fresh upstream read (never on the cache), verified by reading the cluster again after the PUT
(once more if the change is not there), and then stored in the cache in place of that cluster only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fleetgate.core.errors import BadGateway, Conflict, InvalidInput
from fleetgate.core.observability import logger
from fleetgate.core.schemas import sent_fields
from fleetgate.microshare import cache, repository
from fleetgate.microshare import client as upstream
from fleetgate.microshare.clusters import Cluster, RawDevice, eui_key, location_of, same
from fleetgate.microshare.devices import get_device, locate, position
from fleetgate.microshare.schemas import (
    DEVICE_TYPES,
    GATEWAY,
    LOCATION_LENGTH,
    REC_TYPES,
    TRAP,
    Device,
    DeviceCreate,
    DeviceUpdate,
)
from fleetgate.microshare.settings import get_microshare_settings

T = TypeVar("T")


def _check_location(rec_type: str, location: list[str], field: str = "meta.location") -> None:
    want = LOCATION_LENGTH.get(rec_type)
    if want is not None and len(location) != want:
        kind = "A rodent sensor" if rec_type == TRAP else "A gateway"
        raise InvalidInput(f"{kind} needs a location of exactly {want} elements, not {len(location)}", field=field)


@contextmanager
def _lease(cluster_id: str) -> Iterator[None]:
    """Hold the cluster's write lease (wait up to MICROSHARE_LEASE_WAIT_SECONDS for it, else 409)."""
    s = get_microshare_settings()
    owner, give_up, pause = uuid.uuid4().hex, time.monotonic() + s.lease_wait_seconds, 0.02
    while not repository.acquire_lease(cluster_id, owner, s.lease_seconds):
        if time.monotonic() >= give_up:
            raise Conflict(f"Another change to cluster {cluster_id} is in progress; retry shortly")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
    try:
        yield
    finally:
        repository.release_lease(cluster_id, owner)


def write(
    cluster: Cluster, mutate: Callable[[list[RawDevice]], T], applied: Callable[[list[RawDevice], T], bool]
) -> tuple[Cluster, T]:
    """Read-modify-write one cluster upstream under its lease, verified by reading it back.

    ``mutate`` changes the fresh device list in place (raising 404/409/422 as needed) and returns what it
    did; ``applied`` says whether a device list shows that change. When the re-read does not show it, the
    whole cycle runs once more on fresh data (unless that data shows the change already); then 502.
    """
    client = upstream.instance()
    with _lease(cluster.id):
        result: Any = None
        for attempt in (1, 2):
            current = client.get_cluster(cluster.rec_type, cluster.id)
            if attempt == 1 or not applied(current.devices, result):
                result = mutate(current.devices)
                client.put_cluster(current, leased=True)
            read_at = time.time()
            after = client.get_cluster(cluster.rec_type, cluster.id)
            if applied(after.devices, result):
                cache.store(after, fetched_at=read_at)
                return after, result
            logger.warning(
                "Microshare write not visible after PUT", extra={"cluster_id": cluster.id, "attempt": attempt}
            )
        raise BadGateway(f"Microshare did not apply the change to cluster {cluster.id}")


def matching_cluster(clusters: list[Cluster], rec_type: str, location: list[str]) -> Cluster | str:
    """The cluster for a device of ``rec_type`` at ``location``: the one of that type whose devices share its
    customer and site (then customer), else the only one of that type; or why there is none."""
    typed = [c for c in clusters if c.rec_type == rec_type]
    if not typed:
        return f"No {DEVICE_TYPES[rec_type]} cluster exists on Microshare"
    customer, site = (list(location) + ["", ""])[:2]

    def holds(c: Cluster, n: int) -> bool:
        return any(
            len(loc) >= n and same(loc[0], customer) and (n == 1 or same(loc[1], site))
            for loc in (location_of(d) for d in c.devices)
        )

    for n in (2, 1):
        candidates = [c for c in typed if holds(c, n)]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            return f"Several {DEVICE_TYPES[rec_type]} clusters serve {customer}: give cluster_id"
    if len(typed) == 1:
        return typed[0]
    return f"No {DEVICE_TYPES[rec_type]} cluster serves {customer or 'this customer'}: give cluster_id"


def _target_cluster(clusters: list[Cluster], rec_type: str, location: list[str], cluster_id: str | None) -> Cluster:
    """Where a new device goes: ``cluster_id``, else :func:`matching_cluster`."""
    if cluster_id is not None:
        cluster = next((c for c in clusters if c.id == cluster_id), None)
        if cluster is None:
            raise InvalidInput(f"Unknown cluster {cluster_id}", field="query:cluster_id")
        if cluster.rec_type != rec_type:
            raise InvalidInput(
                f"Cluster {cluster_id} holds {DEVICE_TYPES.get(cluster.rec_type, cluster.rec_type)}"
                f" devices, not {DEVICE_TYPES[rec_type]}",
                field="query:cluster_id",
            )
        return cluster
    found = matching_cluster(clusters, rec_type, location)
    if isinstance(found, str):
        raise InvalidInput(found, field="query:cluster_id")
    return found


def device_type_of(data: DeviceCreate) -> str:
    """The device's type as given, else read from its location: 4 elements are a gateway's (the contract's gateway
    example has no device_type), anything else a rodent sensor's (which needs 6)."""
    if data.device_type is not None:
        return data.device_type
    return DEVICE_TYPES[GATEWAY] if len(data.meta.location) == LOCATION_LENGTH[GATEWAY] else DEVICE_TYPES[TRAP]


def create_device(data: DeviceCreate, cluster_id: str | None = None) -> Device:
    rec_type = REC_TYPES[device_type_of(data)]
    _check_location(rec_type, data.meta.location)
    cluster = _target_cluster(cache.clusters(), rec_type, data.meta.location, cluster_id)
    guid = data.guid or f"fleetgate-{uuid.uuid4().hex[:16]}"
    device = {"id": data.id, "meta": data.meta.model_dump(), "status": data.status, "guid": guid}

    def mutate(devices: list[RawDevice]) -> None:
        if any(d.get("guid") == guid for d in devices):
            raise Conflict(f"A device with guid {guid} already exists in cluster {cluster.id}")
        devices.append(device)

    def applied(devices: list[RawDevice], _: None) -> bool:
        return any(
            d.get("guid") == guid and d.get("meta", {}).get("location") == device["meta"]["location"] for d in devices
        )

    after, _ = write(cluster, mutate, applied)
    return after.view(next(d for d in after.devices if d.get("guid") == guid))


def update_device(device_id: str, data: DeviceUpdate, cluster_id: str | None = None) -> Device:
    changes = sent_fields(data)
    cluster = locate(cache.clusters(), device_id, cluster_id)
    if "meta" in changes:
        _check_location(cluster.rec_type, changes["meta"]["location"])
    if not changes:
        return get_device(device_id, cluster.id)

    def mutate(devices: list[RawDevice]) -> RawDevice:
        raw = devices[position(devices, device_id, cluster.id)]
        if "meta" in changes:
            raw["meta"] = {**(raw.get("meta") if isinstance(raw.get("meta"), dict) else {}), **changes["meta"]}
        if "status" in changes:
            raw["status"] = changes["status"]
        if "id" in changes and eui_key(changes["id"]) != eui_key(str(raw.get("id") or "")):
            raw["id"] = changes["id"]  # the same DevEUI in another form leaves the stored id as it is written
        return dict(raw)

    def applied(devices: list[RawDevice], wanted: RawDevice) -> bool:
        return any(
            _same_device(d, wanted) and all(d.get(k) == wanted.get(k) for k in ("id", "status", "meta"))
            for d in devices
        )

    after, wanted = write(cluster, mutate, applied)
    return after.view(next(d for d in after.devices if _same_device(d, wanted)))


def _same_device(raw: RawDevice, wanted: RawDevice) -> bool:
    if wanted.get("guid"):
        return raw.get("guid") == wanted["guid"]
    return raw.get("id") == wanted.get("id") and raw.get("meta") == wanted.get("meta")


def delete_device(device_id: str, cluster_id: str | None = None) -> None:
    cluster = locate(cache.clusters(), device_id, cluster_id)

    def mutate(devices: list[RawDevice]) -> tuple[RawDevice, int]:
        gone = devices.pop(position(devices, device_id, cluster.id))
        return gone, sum(1 for d in devices if _same_device(d, gone))

    def applied(devices: list[RawDevice], done: tuple[RawDevice, int]) -> bool:
        gone, left = done
        return sum(1 for d in devices if _same_device(d, gone)) == left

    write(cluster, mutate, applied)
