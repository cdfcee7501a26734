"""The Microshare context's DynamoDB table: the shared cluster cache, its stats, write leases, uploaded ERP points.

One table (pk, sk), TTL on ``expires_at``. Every access is a key or a Query on one partition (no Scan):

- ``cache`` / ``cluster#<id>``: one discovered cluster (the Microshare record, zlib-compressed JSON) with
  ``fetched_at``, the time its upstream read began; a write only replaces an older copy, so a slow
  discovery never overwrites what a device write just stored;
- ``cache`` / ``meta``: when the cache was filled and until when it is fresh (CACHE_TTL);
- ``stats`` / ``cache``: hit and miss counters, shared by every function instance;
- ``lease`` / ``<cluster id>``: who may write that cluster upstream now, and until when;
- ``erp-upload`` / ``<point id>``: inspection points of the upload ERP adapter.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import BinaryAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from fleetgate.core.ids import iso
from fleetgate.core.repository import BaseModel, is_conditional_failure, meta, save_if
from fleetgate.core.settings import cached, table_name
from fleetgate.microshare.clusters import Cluster

CACHE, META, STATS, LEASE, UPLOAD = "cache", "meta", "stats", "lease", "erp-upload"
GARBAGE_AFTER = timedelta(days=1)  # TTL removes cache items this long after they went stale


class MicroshareItem(BaseModel):
    class Meta:
        abstract = True

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    body = BinaryAttribute(legacy_encoding=False, null=True)  # zlib(JSON)
    fetched_at = NumberAttribute(null=True)  # epoch seconds
    fresh_until = NumberAttribute(null=True)  # epoch seconds
    refreshed_at = UnicodeAttribute(null=True)
    cluster_count = NumberAttribute(null=True)
    device_count = NumberAttribute(null=True)
    hits = NumberAttribute(null=True)
    misses = NumberAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    uploaded_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


@cached
def _items() -> type[MicroshareItem]:
    return type("MicroshareModel", (MicroshareItem,), {"Meta": meta(table_name("MICROSHARE_TABLE"))})


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def _unpack(raw: bytes | None) -> Any:
    return json.loads(zlib.decompress(raw)) if raw else None


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# ------------------------------------------------------------------ cluster cache
@dataclass
class CacheMeta:
    refreshed_at: str
    fetched_at: float
    fresh_until: float
    cluster_count: int
    device_count: int

    @property
    def expires_at(self) -> str:
        return iso(_at(self.fresh_until))


@dataclass
class Snapshot:
    clusters: list[Cluster] = field(default_factory=list)
    meta: CacheMeta | None = None

    def fresh(self, now: float) -> bool:
        return self.meta is not None and now < self.meta.fresh_until

    @property
    def cluster_ids(self) -> set[str]:
        return {c.id for c in self.clusters}


def _meta(item: MicroshareItem) -> CacheMeta:
    return CacheMeta(
        refreshed_at=item.refreshed_at or "",
        fetched_at=float(item.fetched_at or 0),
        fresh_until=float(item.fresh_until or 0),
        cluster_count=int(item.cluster_count or 0),
        device_count=int(item.device_count or 0),
    )


def read_cache() -> Snapshot:
    """Every cached cluster and the cache's freshness: one Query."""
    snap = Snapshot()
    for item in _items().query(CACHE, consistent_read=True):
        if item.sk == META:
            snap.meta = _meta(item)
        elif item.sk.startswith("cluster#"):
            cluster = Cluster.parse(_unpack(item.body))
            if cluster is not None:
                snap.clusters.append(cluster)
    return snap


def count(*, hit: bool) -> None:
    Items = _items()
    Items(STATS, CACHE).update(actions=[(Items.hits if hit else Items.misses).add(1)])


def _cluster_item(cluster: Cluster, fetched_at: float, expires: datetime) -> MicroshareItem:
    return _items()(
        CACHE, f"cluster#{cluster.id}", body=_pack(cluster.to_record()), fetched_at=fetched_at, expires_at=expires
    )


def store_cluster(cluster: Cluster, *, fetched_at: float, ttl: int) -> bool:
    """Put one cluster unless the cache holds a copy read later than ``fetched_at``. True when stored."""
    Items = _items()
    return save_if(
        _cluster_item(cluster, fetched_at, _at(fetched_at + ttl) + GARBAGE_AFTER),
        Items.pk.does_not_exist() | (Items.fetched_at < fetched_at),
    )


def store_discovery(clusters: list[Cluster], *, fetched_at: float, ttl: int, cached_ids: Iterable[str]) -> CacheMeta:
    """Store a full discovery: each cluster (newer copies win), drop vanished ones, then mark the cache fresh."""
    Items = _items()
    for cluster in clusters:
        store_cluster(cluster, fetched_at=fetched_at, ttl=ttl)
    for gone in set(cached_ids) - {c.id for c in clusters}:
        Items(CACHE, f"cluster#{gone}").delete()
    info = CacheMeta(
        refreshed_at=iso(_at(fetched_at)),
        fetched_at=fetched_at,
        fresh_until=fetched_at + ttl,
        cluster_count=len(clusters),
        device_count=sum(len(c.devices) for c in clusters),
    )
    try:
        Items(
            CACHE,
            META,
            refreshed_at=info.refreshed_at,
            fetched_at=info.fetched_at,
            fresh_until=info.fresh_until,
            cluster_count=info.cluster_count,
            device_count=info.device_count,
            expires_at=_at(info.fresh_until) + GARBAGE_AFTER,
        ).save(condition=Items.pk.does_not_exist() | (Items.fetched_at < fetched_at))
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise  # else: a newer discovery already marked the cache
    return info


def clear_cache() -> int:
    """Remove every cached cluster and the freshness mark (stats stay). Returns the clusters removed."""
    Items = _items()
    keys = [(i.pk, i.sk) for i in Items.query(CACHE, consistent_read=True, attributes_to_get=["pk", "sk"])]
    with Items.batch_write() as batch:
        for pk, sk in keys:
            batch.delete(Items(pk, sk))
    return sum(1 for _, sk in keys if sk.startswith("cluster#"))


def cache_state() -> tuple[CacheMeta | None, int, int]:
    """(freshness mark, hits, misses): one BatchGetItem."""
    meta_item, hits, misses = None, 0, 0
    for item in _items().batch_get([(CACHE, META), (STATS, CACHE)]):
        if item.pk == CACHE:
            meta_item = _meta(item)
        else:
            hits, misses = int(item.hits or 0), int(item.misses or 0)
    return meta_item, hits, misses


# ------------------------------------------------------------------ write leases
def acquire_lease(cluster_id: str, owner: str, seconds: float) -> bool:
    """Take the cluster's write lease if it is free or expired. Never blocks."""
    Items = _items()
    now = time.time()
    lease = Items(
        LEASE, cluster_id, owner=owner, lease_until=now + seconds, expires_at=_at(now + seconds) + GARBAGE_AFTER
    )
    return save_if(lease, Items.pk.does_not_exist() | (Items.lease_until < now))


def release_lease(cluster_id: str, owner: str) -> None:
    Items = _items()
    try:
        Items(LEASE, cluster_id).delete(condition=Items.owner == owner)
    except DeleteError as exc:
        if not is_conditional_failure(exc):  # else: it expired and someone else holds it now; theirs to release
            raise


# ------------------------------------------------------------------ uploaded ERP inspection points
def replace_uploaded_points(points: list[dict[str, Any]], uploaded_at: str) -> int:
    """Make ``points`` the uploaded set (one Query, then BatchWriteItem). Returns how many old points went."""
    Items = _items()
    old = {i.sk for i in Items.query(UPLOAD, attributes_to_get=["pk", "sk"])}
    new = {p["id"] for p in points}
    with Items.batch_write() as batch:
        for sk in old - new:
            batch.delete(Items(UPLOAD, sk))
        for point in points:
            batch.save(Items(UPLOAD, point["id"], body=_pack(point), uploaded_at=uploaded_at))
    return len(old - new)


def uploaded_points() -> tuple[list[dict[str, Any]], str | None]:
    """The uploaded points and when they were uploaded: one Query."""
    points, last = [], None
    for item in _items().query(UPLOAD):
        points.append(_unpack(item.body))
        last = max(last or "", item.uploaded_at or "") or None
    return points, last
