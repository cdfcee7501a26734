"""Microshare ERP sync routes (../shared/specs/microshare-erp.md) on the contract's own paths, served by their own
HTTP API (MicroshareApi in template.yaml): ``/api/v1/devices/`` here is Microshare's, not the device manager's.

Every route needs a device-manager token, or a token from this family's own login, except the login and
the health routes.
"""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.http import request_deadline
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.microshare import service
from fleetgate.microshare.schemas import (
    AuthStatus,
    Benchmark,
    CacheCleared,
    CacheStats,
    ClusterDetail,
    ClusterList,
    Device,
    DeviceCreate,
    DeviceUpdate,
    Discovery,
    ErpStatus,
    GapAnalysis,
    Health,
    InspectionPointList,
    LoginRequest,
    LoginToken,
    ServiceStatus,
    SyncResult,
    UploadResult,
    UpstreamHealth,
)
from fleetgate.users.service import authenticate

P = "/api/v1"
# Every route but the login and health ones needs microshare:read; these change the deployment's Microshare
# devices, cache, ERP points or sync state, or spend its upstream quota, and need microshare:write.
app = make_resolver(
    ErrorStyle.DETAIL,
    authenticate=authenticate,
    public_paths=(f"{P}/auth/login", "/health", "/health/microshare"),
    accept_audience=service.AUDIENCE,
    permission=service.READ,
    permissions={
        f"POST {P}/devices": service.WRITE,
        f"PUT {P}/devices/<device_id>": service.WRITE,
        f"DELETE {P}/devices/<device_id>": service.WRITE,
        f"POST {P}/devices/cache/clear": service.WRITE,
        f"GET {P}/devices/performance/benchmark": service.WRITE,
        f"POST {P}/erp/inspection-points": service.WRITE,
        f"POST {P}/erp/sync": service.WRITE,
    },
)

ClusterId = Annotated[
    str | None, Query(min_length=1, max_length=128, description="The cluster, when the device id matches in several")
]
Text = Annotated[str | None, Query(min_length=1, max_length=256)]


# ------------------------------------------------------------------ auth, health, status
@app.post(
    f"{P}/auth/login",
    responses={
        200: {"description": "A token the Microshare routes accept"},
        401: {"description": "Microshare refused the credentials"},
        403: {"description": "Not the deployment's own Microshare account"},
    },
)
def login(payload: LoginRequest) -> LoginToken:
    return service.login(payload)


@app.get(f"{P}/auth/status")
def auth_status() -> AuthStatus:
    return service.auth_status(app.principal)


@app.get("/health")
def health() -> Health:
    return service.health()


@app.get(
    "/health/microshare",
    responses={
        200: {"description": "Microshare answers"},
        503: {"description": "Microshare is unreachable or refuses us"},
    },
)
def upstream_health() -> Response[UpstreamHealth]:
    result = service.upstream_health()
    return Response(200 if result.status == "healthy" else 503, content_types.APPLICATION_JSON, result)


@app.get(f"{P}/status")
def status() -> ServiceStatus:
    return service.status()


# ------------------------------------------------------------------ clusters, discovery, cache, benchmark
@app.get(f"{P}/devices/clusters")
def list_clusters() -> ClusterList:
    return ClusterList(items=service.list_clusters())


@app.get(f"{P}/devices/clusters/<cluster_id>")
def get_cluster(cluster_id: str) -> ClusterDetail:
    return service.get_cluster(cluster_id)


@app.get(f"{P}/devices/discovery")
def discovery() -> Discovery:
    return service.discovery()


@app.get(f"{P}/devices/cache/stats")
def cache_stats() -> CacheStats:
    return service.cache_stats()


@app.post(f"{P}/devices/cache/clear")
def clear_cache() -> CacheCleared:
    return service.clear_cache()


@app.get(f"{P}/devices/performance/benchmark")
def benchmark(iterations: Annotated[int, Query(ge=1, le=10)] = 3) -> Benchmark:
    return service.benchmark(iterations)


# ------------------------------------------------------------------ devices
@app.get(f"{P}/devices")
def list_devices(
    device_type: Annotated[Literal["rodent_sensor", "gateway"] | None, Query()] = None,
    customer: Text = None,
    site: Text = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Device]:
    return service.list_devices(device_type=device_type, customer=customer, site=site, limit=limit, cursor=cursor)


@app.post(f"{P}/devices", responses={201: {"description": "Device created in its cluster"}})
def create_device(payload: DeviceCreate, cluster_id: ClusterId = None) -> Response[Device]:
    return Response(201, content_types.APPLICATION_JSON, service.create_device(payload, cluster_id))


@app.get(f"{P}/devices/<device_id>")
def get_device(device_id: str, cluster_id: ClusterId = None) -> Device:
    return service.get_device(device_id, cluster_id)


@app.put(f"{P}/devices/<device_id>")
def update_device(device_id: str, payload: DeviceUpdate, cluster_id: ClusterId = None) -> Device:
    return service.update_device(device_id, payload, cluster_id)


@app.delete(f"{P}/devices/<device_id>", responses={204: {"description": "Device removed from its cluster"}})
def delete_device(device_id: str, cluster_id: ClusterId = None) -> Response[None]:
    service.delete_device(device_id, cluster_id)
    return Response(204)


# ------------------------------------------------------------------ ERP
@app.get(f"{P}/erp/status")
def erp_status() -> ErpStatus:
    return service.erp_status()


@app.post(f"{P}/erp/inspection-points", responses={200: {"description": "The upload replaced the previous one"}})
def upload_points() -> UploadResult:
    """Upload the ERP's inspection points (ERP_ADAPTER=upload): a JSON list or ``{"items": [...]}``, or CSV
    with a header row (id, reference, customer, site, area, placement, configuration, or name)."""
    event = app.current_event
    return service.upload_points(event.decoded_body, event.headers.get("content-type"))


@app.get(f"{P}/erp/discovery")
def erp_discovery() -> InspectionPointList:
    return service.erp_points()


@app.get(f"{P}/erp/mapping")
def erp_mapping() -> GapAnalysis:
    return service.erp_mapping()


@app.get(f"{P}/erp/unmapped")
def erp_unmapped() -> InspectionPointList:
    return service.erp_unmapped()


@app.post(f"{P}/erp/sync")
def erp_sync(dry_run: Annotated[bool, Query()] = False) -> SyncResult:
    return service.erp_sync(dry_run=dry_run)


@app.exception_handler(service.ServiceCredentialsRejected)
def _service_credentials_rejected(exc: service.ServiceCredentialsRejected) -> Response:
    """The contract's answer when Microshare refuses the deployment's own credentials (no challenge: the caller's
    credentials are not in question)."""
    body = {"error": "Authentication Error", "detail": exc.message}
    return Response(401, content_types.APPLICATION_JSON, body)


def _resolve(event: dict, context: object) -> dict:
    with request_deadline(context):  # upstream calls and their retries end before the function's timeout
        return app.resolve(event, context)


lambda_handler = http_handler(_resolve)
