"""Reading Microshare devices, from the shared cluster cache.

Identifying a device: ``device_id`` matches a device's ``id`` (its DevEUI) or its ``guid``. Devices not yet
deployed all share the id 00-00-00-00-00-00-00-00, so address those by guid; when an id still matches devices in
several clusters, ``cluster_id`` picks one (otherwise 409).
"""

from __future__ import annotations

from fleetgate.core.errors import Conflict, InvalidInput, NotFound
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.microshare import cache
from fleetgate.microshare.clusters import Cluster, RawDevice, matches, same
from fleetgate.microshare.schemas import ClusterDetail, ClusterSummary, Device


def list_clusters() -> list[ClusterSummary]:
    return [c.summary() for c in cache.clusters()]


def get_cluster(cluster_id: str) -> ClusterDetail:
    cluster = next((c for c in cache.clusters() if c.id == cluster_id), None)
    if cluster is None:
        raise NotFound("Cluster not found")
    return ClusterDetail(**cluster.summary().model_dump(), devices=[cluster.view(d) for d in cluster.devices])


def list_devices(
    *, device_type: str | None, customer: str | None, site: str | None, limit: int, cursor: str | None
) -> Page[Device]:
    """Every device of every cached cluster, filtered, in cache order; the cursor is a signed offset."""
    devices = [
        d
        for d in (c.view(raw) for c in cache.clusters() for raw in c.devices)
        if (device_type is None or d.device_type == device_type)
        and (customer is None or same(d.customer, customer))
        and (site is None or same(d.site, site))
    ]
    scope = f"microshare-devices:{device_type}:{(customer or '').casefold()}:{(site or '').casefold()}"
    state = decode_cursor(cursor, scope) or {}
    offset = state.get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput("Invalid cursor", field="query:cursor")
    more = offset + limit < len(devices)
    return Page(
        items=devices[offset : offset + limit],
        next_cursor=encode_cursor({"offset": offset + limit}, scope) if more else None,
    )


def locate(clusters: list[Cluster], device_id: str, cluster_id: str | None) -> Cluster:
    """The one cluster holding ``device_id`` (404 none, 409 several and no ``cluster_id``)."""
    holders = [
        c
        for c in clusters
        if (cluster_id is None or c.id == cluster_id) and any(matches(d, device_id) for d in c.devices)
    ]
    if not holders:
        raise NotFound("Device not found")
    if len(holders) > 1:
        ids = ", ".join(c.id for c in holders)
        raise Conflict(f"Device {device_id} is in several clusters ({ids}): give cluster_id")
    return holders[0]


def position(devices: list[RawDevice], device_id: str, cluster_id: str) -> int:
    """Where ``device_id`` is in a cluster's devices (404 nowhere, 409 several: address it by its guid)."""
    found = [i for i, d in enumerate(devices) if matches(d, device_id)]
    if not found:
        raise NotFound("Device not found")
    if len(found) > 1:
        raise Conflict(
            f"{len(found)} devices in cluster {cluster_id} match {device_id}: address the device by its guid"
        )
    return found[0]


def get_device(device_id: str, cluster_id: str | None = None) -> Device:
    cluster = locate(cache.clusters(), device_id, cluster_id)
    return cluster.view(cluster.devices[position(cluster.devices, device_id, cluster.id)])
