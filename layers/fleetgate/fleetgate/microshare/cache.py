"""The shared cluster cache: every discovered cluster in DynamoDB, shared by every instance, fresh for CACHE_TTL
seconds. A stale or empty cache is refilled by one upstream discovery; the scheduled refresh keeps it fresh."""

from __future__ import annotations

import time
from typing import Any

from fleetgate.microshare import client as upstream
from fleetgate.microshare import repository
from fleetgate.microshare.clusters import Cluster
from fleetgate.microshare.schemas import CacheCleared, CacheStats, Discovery
from fleetgate.microshare.settings import get_microshare_settings


def clusters() -> list[Cluster]:
    """The clusters from the shared cache, by id; a stale or empty cache is refilled by one upstream discovery."""
    snap = repository.read_cache()
    if snap.fresh(time.time()):
        repository.count(hit=True)
        found = snap.clusters
    else:
        repository.count(hit=False)
        found = _discover(snap.cluster_ids)[0]
    return sorted(found, key=lambda c: c.id)


def store(cluster: Cluster, *, fetched_at: float) -> None:
    """Put one cluster read at ``fetched_at`` (after a write) in place of its cached copy, unless a later read
    is there already."""
    repository.store_cluster(cluster, fetched_at=fetched_at, ttl=get_microshare_settings().cache_ttl)


def _discover(cached_ids: set[str]) -> tuple[list[Cluster], repository.CacheMeta]:
    fetched_at = time.time()
    found = upstream.instance().discover()
    info = repository.store_discovery(
        found, fetched_at=fetched_at, ttl=get_microshare_settings().cache_ttl, cached_ids=cached_ids
    )
    return found, info


def refresh_cache() -> dict[str, Any]:
    """The scheduled refresh: rediscover every cluster so requests keep hitting a fresh cache."""
    started = time.perf_counter()
    _, info = _discover(repository.read_cache().cluster_ids)
    return {
        "clusters": info.cluster_count,
        "devices": info.device_count,
        "refreshed_at": info.refreshed_at,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def discovery() -> Discovery:
    started = time.perf_counter()
    found, info = _discover(repository.read_cache().cluster_ids)
    by_type: dict[str, int] = {}
    for cluster in found:
        by_type[cluster.device_type] = by_type.get(cluster.device_type, 0) + len(cluster.devices)
    return Discovery(
        clusters=[c.summary() for c in found],
        cluster_count=info.cluster_count,
        device_count=info.device_count,
        devices_by_type=by_type,
        refreshed_at=info.refreshed_at,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def cache_stats() -> CacheStats:
    meta, hits, misses = repository.cache_state()
    ttl = get_microshare_settings().cache_ttl
    now = time.time()
    total = hits + misses
    common = {"hits": hits, "misses": misses, "hit_rate": round(hits / total, 4) if total else None, "ttl_seconds": ttl}
    if meta is None:
        return CacheStats(fresh=False, clusters=0, devices=0, **common)
    return CacheStats(
        fresh=now < meta.fresh_until,
        clusters=meta.cluster_count,
        devices=meta.device_count,
        refreshed_at=meta.refreshed_at,
        expires_at=meta.expires_at,
        age_seconds=round(max(0.0, now - meta.fetched_at), 3),
        **common,
    )


def clear_cache() -> CacheCleared:
    removed = repository.clear_cache()
    return CacheCleared(
        cleared=removed, message=f"Cache cleared: {removed} cluster(s) will be rediscovered on next read"
    )
