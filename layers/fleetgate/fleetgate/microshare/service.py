"""Microshare ERP sync logic: devices in Microshare clusters, the shared cluster cache, ERP mapping and sync.

Reads come from the cluster cache (DynamoDB, shared by every instance, fresh for CACHE_TTL seconds; a
miss rediscovers every cluster upstream). Writes are read-modify-write of one whole cluster upstream, so
they are serialised per cluster by a DynamoDB lease, made on a fresh upstream read (never on the cache),
verified by reading the cluster again after the PUT (once more if the change is not there), and then
stored in the cache in place of that cluster only.

Identifying a device: ``device_id`` matches a device's ``id`` (its DevEUI) or its ``guid``. Devices not
yet deployed all share the id 00-00-00-00-00-00-00-00, so address those by guid; when an id still matches
devices in several clusters, ``cluster_id`` picks one (otherwise 409).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fleetgate.core.auth import Principal, issue_token
from fleetgate.core.errors import (
    BadGateway,
    ConfigurationError,
    Conflict,
    DomainError,
    Forbidden,
    GatewayTimeout,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from fleetgate.core.ids import iso, now_iso
from fleetgate.core.observability import logger
from fleetgate.core.pagination import Page, decode_cursor, encode_cursor
from fleetgate.core.settings import get_microshare_settings
from fleetgate.microshare import client as upstream
from fleetgate.microshare import erp, repository
from fleetgate.microshare.schemas import (
    DEFAULT_DEVICE_ID,
    DEVICE_TYPES,
    LOCATION_LENGTH,
    REC_TYPES,
    TRAP,
    AuthStatus,
    Benchmark,
    CacheCleared,
    CacheStats,
    ClusterDetail,
    ClusterSummary,
    Device,
    DeviceCreate,
    DeviceUpdate,
    Discovery,
    ErpStatus,
    GapAnalysis,
    Health,
    InspectionPoint,
    InspectionPointList,
    LoginRequest,
    LoginToken,
    OperationTiming,
    PointMapping,
    ServiceStatus,
    SyncItem,
    SyncResult,
    UploadResult,
    UpstreamHealth,
    UpstreamSession,
)

VERSION = "1.0.0"
AUDIENCE = "microshare"  # tokens issued by POST /api/v1/microshare/auth/login
READ, WRITE = "microshare:read", "microshare:write"  # what the routes need (functions/microshare/app.py)
Cluster = dict[str, Any]
T = TypeVar("T")


def _client() -> upstream.MicroshareClient:
    return upstream.instance()


# ------------------------------------------------------------------ auth, health, status
def login(request: LoginRequest) -> LoginToken:
    """Microshare credentials in, a Fleetgate token the Microshare routes accept out (never the upstream's).

    Only the deployment's own Microshare account (MICROSHARE_USERNAME) may log in here, and its token holds
    microshare:read and microshare:write: every call goes upstream with that account anyway. Anyone else
    needs a Fleetgate account an admin granted the microshare permissions to."""
    try:
        _client().fetch_token(request.username, request.password.get_secret_value())
    except upstream.CredentialsRejected:
        raise Unauthorized("Incorrect username or password") from None
    if request.username.strip().casefold() != get_microshare_settings().username.strip().casefold():
        raise Forbidden(
            "This Microshare account does not operate this deployment: "
            "log in with a Fleetgate account that has the microshare permissions"
        )
    token, _ = issue_token(f"microshare:{request.username}", "user", audience=AUDIENCE, permissions=(READ, WRITE))
    return LoginToken(access_token=token)


def _session() -> UpstreamSession:
    client = _client()
    cached, expires_in = client.token_state()
    return UpstreamSession(configured=client.configured, token_cached=cached, token_expires_in=expires_in)


def auth_status(who: Principal) -> AuthStatus:
    return AuthStatus(
        user_id=who.user_id,
        role=who.role,
        upstream=_session(),
        token_source="microshare" if who.audience == AUDIENCE else "fleetgate",
    )


def health(service: str = "microshare-erp") -> Health:
    return Health(service=service, version=VERSION, timestamp=now_iso())


def upstream_health() -> UpstreamHealth:
    """A real discovery call, timed. Never raises: the answer says what is wrong."""
    started = time.perf_counter()
    common: dict[str, Any] = {"timestamp": now_iso()}
    try:
        clusters = _client().discover()
    except ConfigurationError as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="not_configured", authentication="unknown", error=exc.message, **common
        )
    except GatewayTimeout as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="timeout", authentication="unknown", error=exc.message, **common
        )
    except upstream.ServiceCredentialsRejected as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="connected", authentication="invalid", error=exc.message, **common
        )
    except upstream.Unreachable as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="unreachable", authentication="unknown", error=exc.message, **common
        )
    except DomainError as exc:
        return UpstreamHealth(
            status="unhealthy", microshare_api="error", authentication="unknown", error=exc.message, **common
        )
    return UpstreamHealth(
        status="healthy",
        microshare_api="connected",
        authentication="valid",
        cluster_count=len(clusters),
        response_time_ms=round((time.perf_counter() - started) * 1000, 1),
        **common,
    )


def status() -> ServiceStatus:
    return ServiceStatus(
        version=VERSION,
        upstream=_session(),
        cache=cache_stats(),
        erp_adapter=get_microshare_settings().erp_adapter,
        timestamp=now_iso(),
    )


# ------------------------------------------------------------------ the cluster cache
def _clusters() -> list[Cluster]:
    """The clusters from the shared cache, by id; a stale or empty cache is refilled by one upstream discovery."""
    snap = repository.read_cache()
    if snap.fresh(time.time()):
        repository.count(hit=True)
        clusters = snap.clusters
    else:
        repository.count(hit=False)
        clusters = _discover(snap.cluster_ids)[0]
    return sorted(clusters, key=lambda c: c["_id"])


def _discover(cached_ids: set[str]) -> tuple[list[Cluster], repository.CacheMeta]:
    fetched_at = time.time()
    clusters = _client().discover()
    info = repository.store_discovery(
        clusters, fetched_at=fetched_at, ttl=get_microshare_settings().cache_ttl, cached_ids=cached_ids
    )
    return clusters, info


def refresh_cache() -> dict[str, Any]:
    """The scheduled refresh: rediscover every cluster so requests keep hitting a fresh cache."""
    started = time.perf_counter()
    clusters, info = _discover(repository.read_cache().cluster_ids)
    return {
        "clusters": info.cluster_count,
        "devices": info.device_count,
        "refreshed_at": info.refreshed_at,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def discovery() -> Discovery:
    started = time.perf_counter()
    clusters, info = _discover(repository.read_cache().cluster_ids)
    by_type: dict[str, int] = {}
    for c in clusters:
        kind = DEVICE_TYPES.get(c["recType"], "other")
        by_type[kind] = by_type.get(kind, 0) + len(c["data"]["devices"])
    return Discovery(
        clusters=[_summary(c) for c in clusters],
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
        expires_at=iso(repository._at(meta.fresh_until)),
        age_seconds=round(max(0.0, now - meta.fetched_at), 3),
        **common,
    )


def clear_cache() -> CacheCleared:
    removed = repository.clear_cache()
    return CacheCleared(
        cleared=removed, message=f"Cache cleared: {removed} cluster(s) will be rediscovered on next read"
    )


# ------------------------------------------------------------------ views
def _summary(cluster: Cluster) -> ClusterSummary:
    return ClusterSummary(
        id=cluster["_id"],
        name=cluster["name"],
        rec_type=cluster["recType"],
        device_type=DEVICE_TYPES.get(cluster["recType"], "other"),
        device_count=len(cluster["data"]["devices"]),
    )


def _view(cluster: Cluster, raw: dict[str, Any]) -> Device:
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    location = (
        [str(x) if x is not None else "" for x in (meta.get("location") or [])]
        if isinstance(meta.get("location"), list)
        else []
    )
    trap = cluster["recType"] == TRAP

    def at(i: int, only_trap: bool = False) -> str | None:
        return location[i] if len(location) > i and (trap or not only_trap) else None

    return Device(
        id=str(raw.get("id") or raw.get("deviceId") or ""),
        guid=_str(raw.get("guid")),
        status=_str(raw.get("status")),
        device_type=DEVICE_TYPES.get(cluster["recType"], "other"),
        rec_type=cluster["recType"],
        cluster_id=cluster["_id"],
        cluster_name=cluster["name"],
        meta=meta,
        location=location,
        customer=at(0),
        site=at(1),
        area=at(2),
        erp_reference=at(3, True),
        placement=at(4, True),
        configuration=at(5, True),
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _matches(raw: dict[str, Any], key: str) -> bool:
    return key in (str(raw.get("id") or raw.get("deviceId") or ""), str(raw.get("guid") or "\0"))


# ------------------------------------------------------------------ reading devices
def list_clusters() -> list[ClusterSummary]:
    return [_summary(c) for c in _clusters()]


def get_cluster(cluster_id: str) -> ClusterDetail:
    cluster = next((c for c in _clusters() if c["_id"] == cluster_id), None)
    if cluster is None:
        raise NotFound("Cluster not found")
    return ClusterDetail(
        **_summary(cluster).model_dump(), devices=[_view(cluster, d) for d in cluster["data"]["devices"]]
    )


def list_devices(
    *, device_type: str | None, customer: str | None, site: str | None, limit: int, cursor: str | None
) -> Page[Device]:
    """Every device of every cached cluster, filtered, in cache order; the cursor is a signed offset."""
    devices = [_view(c, d) for c in _clusters() for d in c["data"]["devices"]]
    devices = [
        d
        for d in devices
        if (device_type is None or d.device_type == device_type)
        and (customer is None or _same(d.customer, customer))
        and (site is None or _same(d.site, site))
    ]
    scope = f"microshare-devices:{device_type}:{(customer or '').casefold()}:{(site or '').casefold()}"
    state = decode_cursor(cursor, scope) or {}
    offset = state.get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput("Invalid cursor", field="query:cursor")
    page = devices[offset : offset + limit]
    more = offset + limit < len(devices)
    return Page(items=page, next_cursor=encode_cursor({"offset": offset + limit}, scope) if more else None)


def _locate(clusters: list[Cluster], device_id: str, cluster_id: str | None) -> Cluster:
    """The one cached cluster holding ``device_id`` (404 none, 409 several and no ``cluster_id``)."""
    holders = [
        c
        for c in clusters
        if (cluster_id is None or c["_id"] == cluster_id) and any(_matches(d, device_id) for d in c["data"]["devices"])
    ]
    if not holders:
        raise NotFound("Device not found")
    if len(holders) > 1:
        ids = ", ".join(c["_id"] for c in holders)
        raise Conflict(f"Device {device_id} is in several clusters ({ids}): give cluster_id")
    return holders[0]


def _one(devices: list[dict[str, Any]], device_id: str, cluster_id: str) -> int:
    found = [i for i, d in enumerate(devices) if _matches(d, device_id)]
    if not found:
        raise NotFound("Device not found")
    if len(found) > 1:
        raise Conflict(
            f"{len(found)} devices in cluster {cluster_id} match {device_id}: address the device by its guid"
        )
    return found[0]


def get_device(device_id: str, cluster_id: str | None = None) -> Device:
    cluster = _locate(_clusters(), device_id, cluster_id)
    devices = cluster["data"]["devices"]
    return _view(cluster, devices[_one(devices, device_id, cluster["_id"])])


# ------------------------------------------------------------------ writing devices
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


def _write(
    cluster: Cluster, mutate: Callable[[list[dict[str, Any]]], T], applied: Callable[[list[dict[str, Any]], T], bool]
) -> tuple[Cluster, T]:
    """Read-modify-write one cluster upstream under its lease, verified by reading it back.

    ``mutate`` changes the fresh device list in place (raising 404/409/422 as needed) and returns what it
    did; ``applied`` says whether a device list shows that change. When the re-read does not show it, the
    whole cycle runs once more on fresh data (unless that data shows the change already); then 502.
    """
    client = _client()
    rec_type, cluster_id = cluster["recType"], cluster["_id"]
    with _lease(cluster_id):
        result: Any = None
        for attempt in (1, 2):
            current = client.get_cluster(rec_type, cluster_id)
            devices = current["data"]["devices"]
            if attempt == 1 or not applied(devices, result):
                result = mutate(devices)
                client.put_cluster(current)
            read_at = time.time()
            after = client.get_cluster(rec_type, cluster_id)
            if applied(after["data"]["devices"], result):
                repository.store_cluster(after, fetched_at=read_at, ttl=get_microshare_settings().cache_ttl)
                return after, result
            logger.warning(
                "Microshare write not visible after PUT", extra={"cluster_id": cluster_id, "attempt": attempt}
            )
        raise BadGateway(f"Microshare did not apply the change to cluster {cluster_id}")


def _target_cluster(clusters: list[Cluster], rec_type: str, location: list[str], cluster_id: str | None) -> Cluster:
    """Where a new device goes: ``cluster_id``, else the cluster of its type whose devices share its customer
    and site (then customer), else the only cluster of its type."""
    if cluster_id is not None:
        cluster = next((c for c in clusters if c["_id"] == cluster_id), None)
        if cluster is None:
            raise InvalidInput(f"Unknown cluster {cluster_id}", field="query:cluster_id")
        if cluster["recType"] != rec_type:
            raise InvalidInput(
                f"Cluster {cluster_id} holds {DEVICE_TYPES.get(cluster['recType'], cluster['recType'])}"
                f" devices, not {DEVICE_TYPES[rec_type]}",
                field="query:cluster_id",
            )
        return cluster
    found = _matching_cluster(clusters, rec_type, location)
    if isinstance(found, str):
        raise InvalidInput(found, field="query:cluster_id")
    return found


def _matching_cluster(clusters: list[Cluster], rec_type: str, location: list[str]) -> Cluster | str:
    """The cluster for a device of ``rec_type`` at ``location``, or why there is none."""
    typed = [c for c in clusters if c["recType"] == rec_type]
    if not typed:
        return f"No {DEVICE_TYPES[rec_type]} cluster exists on Microshare"
    customer, site = (list(location) + ["", ""])[:2]

    def holds(c: Cluster, n: int) -> bool:
        return any(
            len(loc) >= n and _same(str(loc[0]), customer) and (n == 1 or _same(str(loc[1]), site))
            for loc in (_location(d) for d in c["data"]["devices"])
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


def create_device(data: DeviceCreate, cluster_id: str | None = None) -> Device:
    rec_type = REC_TYPES[data.device_type]
    _check_location(rec_type, data.meta.location)
    cluster = _target_cluster(_clusters(), rec_type, data.meta.location, cluster_id)
    guid = data.guid or f"fleetgate-{uuid.uuid4().hex[:16]}"
    device = {"id": data.id, "meta": data.meta.model_dump(), "status": data.status, "guid": guid}

    def mutate(devices: list[dict[str, Any]]) -> None:
        if any(d.get("guid") == guid for d in devices):
            raise Conflict(f"A device with guid {guid} already exists in cluster {cluster['_id']}")
        devices.append(device)

    def applied(devices: list[dict[str, Any]], _: None) -> bool:
        return any(
            d.get("guid") == guid and d.get("meta", {}).get("location") == device["meta"]["location"] for d in devices
        )

    after, _ = _write(cluster, mutate, applied)
    return _view(after, next(d for d in after["data"]["devices"] if d.get("guid") == guid))


def update_device(device_id: str, data: DeviceUpdate, cluster_id: str | None = None) -> Device:
    changes = data.model_dump(exclude_unset=True)
    for key in ("id", "meta", "status"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be null", field=key)
    cluster = _locate(_clusters(), device_id, cluster_id)
    if "meta" in changes:
        _check_location(cluster["recType"], changes["meta"]["location"])
    if not changes:
        return get_device(device_id, cluster["_id"])

    def mutate(devices: list[dict[str, Any]]) -> dict[str, Any]:
        raw = devices[_one(devices, device_id, cluster["_id"])]
        if "meta" in changes:
            raw["meta"] = {**(raw.get("meta") if isinstance(raw.get("meta"), dict) else {}), **changes["meta"]}
        for key in ("id", "status"):
            if key in changes:
                raw[key] = changes[key]
        return dict(raw)

    def applied(devices: list[dict[str, Any]], wanted: dict[str, Any]) -> bool:
        return any(
            _same_device(d, wanted) and all(d.get(k) == wanted.get(k) for k in ("id", "status", "meta"))
            for d in devices
        )

    after, wanted = _write(cluster, mutate, applied)
    return _view(after, next(d for d in after["data"]["devices"] if _same_device(d, wanted)))


def _same_device(raw: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if wanted.get("guid"):
        return raw.get("guid") == wanted["guid"]
    return raw.get("id") == wanted.get("id") and raw.get("meta") == wanted.get("meta")


def delete_device(device_id: str, cluster_id: str | None = None) -> None:
    cluster = _locate(_clusters(), device_id, cluster_id)

    def mutate(devices: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
        gone = devices.pop(_one(devices, device_id, cluster["_id"]))
        return gone, sum(1 for d in devices if _same_device(d, gone))

    def applied(devices: list[dict[str, Any]], done: tuple[dict[str, Any], int]) -> bool:
        gone, left = done
        return sum(1 for d in devices if _same_device(d, gone)) == left

    _write(cluster, mutate, applied)


# ------------------------------------------------------------------ ERP
def _source() -> erp.InspectionPointSource:
    return erp.source(get_microshare_settings())


def erp_status() -> ErpStatus:
    return _source().status()


def upload_points(body: str | None, content_type: str | None) -> UploadResult:
    settings = get_microshare_settings()
    if settings.erp_adapter != "upload":
        raise Conflict(f"The ERP adapter is {settings.erp_adapter}: uploaded inspection points would not be used")
    points = erp.parse_upload(body, content_type)
    uploaded_at = now_iso()
    removed = repository.replace_uploaded_points([p.model_dump() for p in points], uploaded_at)
    return UploadResult(received=len(points), stored=len(points), removed=removed, uploaded_at=uploaded_at)


def erp_points() -> InspectionPointList:
    source = _source()
    points = source.points()
    return InspectionPointList(adapter=source.name, count=len(points), items=points)


def _traps(clusters: list[Cluster]) -> list[tuple[Cluster, dict[str, Any]]]:
    return [(c, d) for c in clusters if c["recType"] == TRAP for d in c["data"]["devices"]]


def _location(raw: dict[str, Any]) -> list[Any]:
    location = raw["meta"].get("location") if isinstance(raw.get("meta"), dict) else None
    return location if isinstance(location, list) else []


def _reference(raw: dict[str, Any]) -> str | None:
    location = _location(raw)
    return str(location[3]).strip() if len(location) > 3 and location[3] else None


def _gap(points: list[InspectionPoint], clusters: list[Cluster], adapter: str) -> GapAnalysis:
    by_reference: dict[str, tuple[Cluster, dict[str, Any]]] = {}
    for cluster, raw in _traps(clusters):
        ref = _reference(raw)
        if ref and ref not in by_reference:
            by_reference[ref] = (cluster, raw)
    mappings, unmapped = [], []
    for point in points:
        hit = by_reference.get(point.reference.strip())
        if hit:
            mappings.append(PointMapping(point=point, device=_view(*hit)))
        else:
            unmapped.append(point)
    references = {p.reference.strip() for p in points}
    unmatched = sum(1 for ref in by_reference if ref not in references)
    return GapAnalysis(
        adapter=adapter,
        total_points=len(points),
        mapped=len(mappings),
        unmapped=len(unmapped),
        coverage_percent=_coverage(len(mappings), len(points)),
        mappings=mappings,
        unmapped_points=unmapped,
        unmatched_devices=unmatched,
    )


def _coverage(mapped: int, total: int) -> float:
    return round(100.0 * mapped / total, 1) if total else 0.0


def erp_mapping() -> GapAnalysis:
    source = _source()
    return _gap(source.points(), _clusters(), source.name)


def erp_unmapped() -> InspectionPointList:
    source = _source()
    gap = _gap(source.points(), _clusters(), source.name)
    return InspectionPointList(adapter=source.name, count=gap.unmapped, items=gap.unmapped_points)


def _pending_device(point: InspectionPoint) -> dict[str, Any]:
    return {
        "id": DEFAULT_DEVICE_ID,
        "status": "pending",
        "guid": f"erp-sync-{point.id}",
        "meta": {
            "location": [
                point.customer,
                point.site,
                point.area,
                point.reference,
                point.placement or "Internal",
                point.configuration or "Bait/Lured",
            ]
        },
    }


def erp_sync(*, dry_run: bool = False) -> SyncResult:
    """A pending rodent sensor for each unmapped inspection point, in the cluster that serves its customer/site.

    Idempotent: a point is skipped when a sensor already carries its reference (location[3]) or its
    ``erp-sync-<point id>`` guid; that is checked again on the fresh cluster, under the cluster's lease.
    """
    source = _source()
    points, clusters = source.points(), _clusters()
    before = _gap(points, clusters, source.name)
    items: list[SyncItem] = []
    plan: dict[str, list[InspectionPoint]] = {}
    by_id = {c["_id"]: c for c in clusters}
    for point in before.unmapped_points:
        target = _matching_cluster(clusters, TRAP, [point.customer, point.site])
        if isinstance(target, str):
            items.append(SyncItem(point_id=point.id, reference=point.reference, outcome="skipped", reason=target))
        else:
            plan.setdefault(target["_id"], []).append(point)
    created = 0
    for cluster_id, group in plan.items():
        cluster = by_id[cluster_id]
        if dry_run:
            items.extend(
                SyncItem(point_id=p.id, reference=p.reference, outcome="would_create", cluster_id=cluster_id)
                for p in group
            )
            continue

        def mutate(devices: list[dict[str, Any]], group: list[InspectionPoint] = group) -> list[dict[str, Any]]:
            refs = {_reference(d) for d in devices}
            guids = {d.get("guid") for d in devices}
            new = [
                _pending_device(p) for p in group if p.reference.strip() not in refs and f"erp-sync-{p.id}" not in guids
            ]
            devices.extend(new)
            return new

        def applied(devices: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
            guids = {d.get("guid") for d in devices}
            return all(d["guid"] in guids for d in new)

        after, new = _write(cluster, mutate, applied)
        by_id[cluster_id] = after
        new_guids = {d["guid"] for d in new}
        for point in group:
            guid = f"erp-sync-{point.id}"
            if guid in new_guids:
                created += 1
                raw = next(d for d in after["data"]["devices"] if d.get("guid") == guid)
                items.append(
                    SyncItem(
                        point_id=point.id,
                        reference=point.reference,
                        outcome="created",
                        cluster_id=cluster_id,
                        device=_view(after, raw),
                    )
                )
            else:
                items.append(
                    SyncItem(
                        point_id=point.id,
                        reference=point.reference,
                        outcome="skipped",
                        cluster_id=cluster_id,
                        reason="Mapped by a concurrent change",
                    )
                )
    after_gap = before if dry_run else _gap(points, list(by_id.values()), source.name)
    return SyncResult(
        dry_run=dry_run,
        created=created,
        already_mapped=before.mapped,
        skipped=sum(1 for i in items if i.outcome == "skipped"),
        coverage_before=before.coverage_percent,
        coverage_after=after_gap.coverage_percent,
        items=items,
    )


# ------------------------------------------------------------------ benchmark
BENCHMARK_BUDGET_SECONDS = 20.0


def benchmark(iterations: int) -> Benchmark:
    """Time real upstream calls (authentication, discovery, one cluster read) and the cached read they are
    saved by. Only 2xx answers count as successes; timeouts and connection failures are failures."""
    client = _client()
    client.require_configured()
    samples: dict[str, list[tuple[str, float]]] = {
        "authentication": [],
        "discovery": [],
        "cluster_read": [],
        "cached_read": [],
    }
    started = time.perf_counter()
    cluster: Cluster | None = None

    def timed(name: str, call: Callable[[], int | str]) -> None:
        t0 = time.perf_counter()
        try:
            outcome: int | str = call()
        except GatewayTimeout:
            outcome = "timeout"
        except (BadGateway, NotFound):
            outcome = "error"
        if outcome != "skipped":  # no cluster to read (discovery failed): nothing was timed
            samples[name].append((str(outcome), (time.perf_counter() - t0) * 1000))

    def authenticate() -> int:
        return client.probe_auth()

    def discover() -> int:
        nonlocal cluster
        reply = client.api(
            "GET", ["device", "*"], "benchmark_discover", params=[("details", "true"), ("discover", "true")]
        )
        objs = reply.body.get("objs") if reply.ok and isinstance(reply.body, dict) else None
        if cluster is None and isinstance(objs, list) and objs:
            cluster = upstream._cluster(objs[0])
        return reply.status

    def read_cluster() -> int | str:
        if cluster is None:
            return "skipped"
        return client.api("GET", ["device", cluster["recType"], cluster["_id"]], "benchmark_cluster").status

    def cached() -> int:
        repository.read_cache()
        return 200

    done = 0
    for _ in range(iterations):
        if time.perf_counter() - started > BENCHMARK_BUDGET_SECONDS:
            break
        timed("authentication", authenticate)
        timed("discovery", discover)
        timed("cluster_read", read_cluster)
        timed("cached_read", cached)
        done += 1
    return Benchmark(
        iterations=done,
        total_ms=round((time.perf_counter() - started) * 1000, 1),
        operations={name: _timing(values) for name, values in samples.items()},
    )


def _timing(values: list[tuple[str, float]]) -> OperationTiming:
    statuses: dict[str, int] = {}
    for outcome, _ in values:
        statuses[outcome] = statuses.get(outcome, 0) + 1
    ok = [ms for outcome, ms in values if outcome.isdigit() and 200 <= int(outcome) < 300]
    times = [ms for _, ms in values]
    return OperationTiming(
        calls=len(values),
        successes=len(ok),
        failures=len(values) - len(ok),
        statuses=statuses,
        min_ms=round(min(times), 2) if times else None,
        max_ms=round(max(times), 2) if times else None,
        p50_ms=round(statistics.median(times), 2) if times else None,
        mean_ms=round(statistics.fmean(times), 2) if times else None,
    )
