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
from fleetgate.users.authentication import authenticate

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

# What a route that reaches Microshare can answer besides success (errors in {"detail": ...}, but for the contract's
# 401 when Microshare refuses the deployment's own credentials).
UPSTREAM = {
    401: {
        "description": "Microshare refused the deployment's service credentials (or the caller's token is invalid)",
        "example": {"error": "Authentication Error", "detail": "Microshare rejected the configured credentials"},
    },
    500: {
        "description": "A Microshare setting is missing (MICROSHARE_API_URL, ...)",
        "example": {"detail": "Microshare API URL is not configured"},
    },
    502: {
        "description": "Microshare answered an error or nothing usable, after the retries a read gets",
        "example": {"detail": "Microshare API returned error 500"},
    },
    504: {
        "description": "Microshare did not answer within API_TIMEOUT",
        "example": {"detail": "Microshare API did not respond in time"},
    },
}
SEVERAL = {
    409: {
        "description": "The id names devices in several clusters (give cluster_id) or in one (use the guid)",
        "example": {
            "detail": "Device 00-00-00-00-00-00-00-00 is in several clusters (trap-acme, trap-kfc): give cluster_id"
        },
    }
}
WRITE = {
    **UPSTREAM,
    409: {
        "description": "Another write holds the cluster, or the id names several devices (use the guid)",
        "example": {"detail": "Another change to cluster trap-acme is in progress; retry shortly"},
    },
}

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
    """Exchange Microshare credentials for a token. Only the deployment's own Microshare account; the token is
    accepted by the Microshare routes only."""
    return service.login(payload)


@app.get(f"{P}/auth/status")
def auth_status() -> AuthStatus:
    """Who the token is, and this instance's Microshare session."""
    return service.auth_status(app.principal)


@app.get("/health")
def health() -> Health:
    """Health check (no token, no upstream call)."""
    return service.health()


@app.get(
    "/health/microshare",
    responses={
        200: {"description": "Microshare answers"},
        503: {"description": "Microshare is unreachable or refuses us"},
    },
)
def upstream_health() -> Response[UpstreamHealth]:
    """Microshare's own health. One real discovery call, timed; 503 when Microshare is unreachable or refuses us."""
    result = service.upstream_health()
    return Response(200 if result.status == "healthy" else 503, content_types.APPLICATION_JSON, result)


@app.get(f"{P}/status")
def status() -> ServiceStatus:
    """Detailed status. The upstream session, the shared cluster cache and the ERP adapter."""
    return service.status()


# ------------------------------------------------------------------ clusters, discovery, cache, benchmark
@app.get(f"{P}/devices/clusters", responses=UPSTREAM)
def list_clusters() -> ClusterList:
    """List available device clusters. Read-only containers that group devices by type and location."""
    return ClusterList(items=service.list_clusters())


@app.get(f"{P}/devices/clusters/<cluster_id>", responses=UPSTREAM)
def get_cluster(cluster_id: str) -> ClusterDetail:
    """A cluster with its devices."""
    return service.get_cluster(cluster_id)


@app.get(f"{P}/devices/discovery", responses=UPSTREAM)
def discovery() -> Discovery:
    """Discover all devices and clusters. Reads Microshare now and refreshes the shared cluster cache."""
    return service.discovery()


@app.get(f"{P}/devices/cache/stats")
def cache_stats() -> CacheStats:
    """Cluster cache statistics."""
    return service.cache_stats()


@app.post(f"{P}/devices/cache/clear")
def clear_cache() -> CacheCleared:
    """Clear the shared cluster cache. The next read discovers again."""
    return service.clear_cache()


@app.get(f"{P}/devices/performance/benchmark", responses=UPSTREAM)
def benchmark(iterations: Annotated[int, Query(ge=1, le=10)] = 3) -> Benchmark:
    """Performance testing and validation. Times real Microshare calls (authentication, discovery, a cluster read)."""
    return service.benchmark(iterations)


# ------------------------------------------------------------------ devices
@app.get(f"{P}/devices", responses=UPSTREAM)
def list_devices(
    device_type: Annotated[Literal["rodent_sensor", "gateway"] | None, Query()] = None,
    customer: Text = None,
    site: Text = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Device]:
    """List all devices across clusters. From the shared cluster cache, filtered and paged."""
    return service.list_devices(device_type=device_type, customer=customer, site=site, limit=limit, cursor=cursor)


@app.post(f"{P}/devices", responses={201: {"description": "Device created in its cluster"}, **WRITE})
def create_device(payload: DeviceCreate, cluster_id: ClusterId = None) -> Response[Device]:
    """Create a new device in the appropriate cluster. The cluster of its type whose devices share its customer
    and site, or cluster_id; device_type, when absent, is read from the location's length (4: gateway)."""
    return Response(201, content_types.APPLICATION_JSON, service.create_device(payload, cluster_id))


@app.get(f"{P}/devices/<device_id>", responses={**UPSTREAM, **SEVERAL})
def get_device(device_id: str, cluster_id: ClusterId = None) -> Device:
    """Get a device by its DevEUI (any written form) or guid."""
    return service.get_device(device_id, cluster_id)


@app.put(f"{P}/devices/<device_id>", responses=WRITE)
def update_device(device_id: str, payload: DeviceUpdate, cluster_id: ClusterId = None) -> Device:
    """Update an existing device. Absent fields keep their value; other devices' stored ids are left as written."""
    return service.update_device(device_id, payload, cluster_id)


@app.delete(f"{P}/devices/<device_id>", responses={204: {"description": "Device removed from its cluster"}, **WRITE})
def delete_device(device_id: str, cluster_id: ClusterId = None) -> Response[None]:
    """Remove a device from its cluster."""
    service.delete_device(device_id, cluster_id)
    return Response(204)


# ------------------------------------------------------------------ ERP
@app.get(f"{P}/erp/status")
def erp_status() -> ErpStatus:
    """The ERP adapter's state."""
    return service.erp_status()


@app.post(
    f"{P}/erp/inspection-points",
    responses={
        200: {"description": "The upload replaced the previous one"},
        409: {"description": "ERP_ADAPTER is not upload: the points come from the ERP itself"},
        413: {"description": "The body is too large"},
        415: {"description": "Neither JSON nor CSV"},
    },
)
def upload_points() -> UploadResult:
    """Upload the ERP's inspection points (ERP_ADAPTER=upload): a JSON list or ``{"items": [...]}``, or CSV
    with a header row (id, reference, customer, site, area, placement, configuration, or name)."""
    event = app.current_event
    return service.upload_points(event.decoded_body, event.headers.get("content-type"))


@app.get(f"{P}/erp/discovery", responses=UPSTREAM)
def erp_discovery() -> InspectionPointList:
    """The ERP's inspection points."""
    return service.erp_points()


@app.get(f"{P}/erp/mapping", responses=UPSTREAM)
def erp_mapping() -> GapAnalysis:
    """Gap analysis. Which inspection points have a rodent sensor (location[3] is the ERP reference), which not."""
    return service.erp_mapping()


@app.get(f"{P}/erp/unmapped", responses=UPSTREAM)
def erp_unmapped() -> InspectionPointList:
    """Inspection points without a device."""
    return service.erp_unmapped()


@app.post(f"{P}/erp/sync", responses=WRITE)
def erp_sync(dry_run: Annotated[bool, Query()] = False) -> SyncResult:
    """Create a pending device for each unmapped inspection point. dry_run=true only says what it would create."""
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
