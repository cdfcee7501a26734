"""ERP inspection points against Microshare's rodent sensors: the gap analysis (which points a sensor carries in
``location[3]``) and the sync that creates a pending sensor for each unmapped point, through leased writes."""

from __future__ import annotations

from typing import Any

from fleetgate.core.errors import Conflict
from fleetgate.core.ids import now_iso
from fleetgate.microshare import cache, erp, repository
from fleetgate.microshare.clusters import Cluster, RawDevice, reference_of
from fleetgate.microshare.schemas import (
    DEFAULT_DEVICE_ID,
    TRAP,
    ErpStatus,
    GapAnalysis,
    InspectionPoint,
    InspectionPointList,
    PointMapping,
    SyncItem,
    SyncResult,
    UploadResult,
)
from fleetgate.microshare.settings import get_erp_settings
from fleetgate.microshare.writes import matching_cluster, write


def _source() -> erp.InspectionPointSource:
    return erp.source(get_erp_settings())


def erp_status() -> ErpStatus:
    return _source().status()


def upload_points(body: str | None, content_type: str | None) -> UploadResult:
    adapter = get_erp_settings().adapter
    if adapter != "upload":
        raise Conflict(f"The ERP adapter is {adapter}: uploaded inspection points would not be used")
    points = erp.parse_upload(body, content_type)
    uploaded_at = now_iso()
    removed = repository.replace_uploaded_points([p.model_dump() for p in points], uploaded_at)
    return UploadResult(received=len(points), stored=len(points), removed=removed, uploaded_at=uploaded_at)


def erp_points() -> InspectionPointList:
    source = _source()
    points = source.points()
    return InspectionPointList(adapter=source.name, count=len(points), items=points)


def _gap(points: list[InspectionPoint], clusters: list[Cluster], adapter: str) -> GapAnalysis:
    by_reference: dict[str, tuple[Cluster, RawDevice]] = {}
    for cluster in clusters:
        if cluster.rec_type != TRAP:
            continue
        for raw in cluster.devices:
            ref = reference_of(raw)
            if ref and ref not in by_reference:
                by_reference[ref] = (cluster, raw)
    mappings, unmapped = [], []
    for point in points:
        hit = by_reference.get(point.reference.strip())
        if hit:
            mappings.append(PointMapping(point=point, device=hit[0].view(hit[1])))
        else:
            unmapped.append(point)
    references = {p.reference.strip() for p in points}
    return GapAnalysis(
        adapter=adapter,
        total_points=len(points),
        mapped=len(mappings),
        unmapped=len(unmapped),
        coverage_percent=round(100.0 * len(mappings) / len(points), 1) if points else 0.0,
        mappings=mappings,
        unmapped_points=unmapped,
        unmatched_devices=sum(1 for ref in by_reference if ref not in references),
    )


def erp_mapping() -> GapAnalysis:
    source = _source()
    return _gap(source.points(), cache.clusters(), source.name)


def erp_unmapped() -> InspectionPointList:
    source = _source()
    gap = _gap(source.points(), cache.clusters(), source.name)
    return InspectionPointList(adapter=source.name, count=gap.unmapped, items=gap.unmapped_points)


def _pending_device(point: InspectionPoint) -> RawDevice:
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
    points, clusters = source.points(), cache.clusters()
    before = _gap(points, clusters, source.name)
    items: list[SyncItem] = []
    plan: dict[str, list[InspectionPoint]] = {}
    by_id = {c.id: c for c in clusters}
    for point in before.unmapped_points:
        target = matching_cluster(clusters, TRAP, [point.customer, point.site])
        if isinstance(target, str):
            items.append(SyncItem(point_id=point.id, reference=point.reference, outcome="skipped", reason=target))
        else:
            plan.setdefault(target.id, []).append(point)
    created = 0
    for cluster_id, group in plan.items():
        if dry_run:
            items.extend(
                SyncItem(point_id=p.id, reference=p.reference, outcome="would_create", cluster_id=cluster_id)
                for p in group
            )
            continue

        def mutate(devices: list[RawDevice], group: list[InspectionPoint] = group) -> list[RawDevice]:
            refs = {reference_of(d) for d in devices}
            guids = {d.get("guid") for d in devices}
            new = [
                _pending_device(p) for p in group if p.reference.strip() not in refs and f"erp-sync-{p.id}" not in guids
            ]
            devices.extend(new)
            return new

        def applied(devices: list[RawDevice], new: list[RawDevice]) -> bool:
            guids = {d.get("guid") for d in devices}
            return all(d["guid"] in guids for d in new)

        after, new = write(by_id[cluster_id], mutate, applied)
        by_id[cluster_id] = after
        new_guids = {d["guid"] for d in new}
        for point in group:
            guid = f"erp-sync-{point.id}"
            if guid in new_guids:
                created += 1
                raw = next(d for d in after.devices if d.get("guid") == guid)
                outcome: dict[str, Any] = {"outcome": "created", "device": after.view(raw)}
            else:
                outcome = {"outcome": "skipped", "reason": "Mapped by a concurrent change"}
            items.append(SyncItem(point_id=point.id, reference=point.reference, cluster_id=cluster_id, **outcome))
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
