"""The Microshare ERP sync contract (../shared/specs/microshare-erp.md), on the Microshare API's own paths.

Devices keep Microshare's own shape (``id``, ``meta.location``, ``status``, ``guid``) and add what a
caller needs to act on them: the cluster that holds them, their type, and the location read out by
position (customer, site, area, and for rodent sensors the ERP reference, placement and configuration).
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, SecretStr

from fleetgate.core.schemas import Input, Printable, Schema

TRAP = "io.microshare.trap.packed"
GATEWAY = "io.microshare.gateway.health.packed"
REC_TYPES: dict[str, str] = {"rodent_sensor": TRAP, "gateway": GATEWAY}
DEVICE_TYPES: dict[str, str] = {v: k for k, v in REC_TYPES.items()}
LOCATION_LENGTH: dict[str, int] = {TRAP: 6, GATEWAY: 4}
DEFAULT_DEVICE_ID = "00-00-00-00-00-00-00-00"

DeviceType = Literal["rodent_sensor", "gateway"]
DeviceStatus = Literal["pending", "active", "maintenance", "inactive"]

_EUI = re.compile(r"^[0-9A-F]{16}$")


def _eui(value: str) -> str:
    """``58a0cbfffe800001`` and ``58-A0-CB-FF-FE-80-00-01`` are one DevEUI; Microshare writes it dashed, upper case."""
    raw = re.sub(r"[\s:-]", "", value).upper()
    if not _EUI.match(raw):
        raise ValueError("id must be a DevEUI: 16 hexadecimal digits, e.g. 00-00-00-00-00-00-00-00")
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


DevEui = Annotated[str, AfterValidator(_eui)]
LocationPart = Annotated[str, Field(max_length=256)]
Text = Annotated[str, Field(min_length=1, max_length=256)]


# ------------------------------------------------------------------ auth
class LoginRequest(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "your-username@company.com", "password": "your-password"}]}
    )

    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)]  # masked in every repr and debug log


class LoginToken(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"access_token": "jwt-token", "token_type": "bearer"}]})

    access_token: str
    token_type: Literal["bearer"] = "bearer"


class UpstreamSession(Schema):
    configured: bool = Field(description="Microshare URLs and service credentials are all set")
    token_cached: bool = Field(description="This instance holds a Microshare token")
    token_expires_in: int | None = Field(None, description="Seconds until the cached token expires")


class AuthStatus(Schema):
    authenticated: bool = True
    user_id: str
    role: str
    token_source: Literal["fleetgate", "microshare"]
    upstream: UpstreamSession


# ------------------------------------------------------------------ health and status
class Health(Schema):
    status: Literal["healthy"] = "healthy"
    service: str
    version: str
    timestamp: str


class UpstreamHealth(Schema):
    status: Literal["healthy", "unhealthy"]
    microshare_api: Literal["connected", "not_configured", "unreachable", "timeout", "error"]
    authentication: Literal["valid", "invalid", "unknown"]
    cluster_count: int | None = None
    response_time_ms: float | None = None
    error: str | None = None
    timestamp: str


class CacheStats(Schema):
    hits: int
    misses: int
    hit_rate: float | None = Field(None, description="hits / (hits + misses), null before the first read")
    fresh: bool
    clusters: int
    devices: int
    refreshed_at: str | None = None
    expires_at: str | None = None
    age_seconds: float | None = None
    ttl_seconds: int


class CacheCleared(Schema):
    cleared: int = Field(description="Cached clusters removed")
    message: str


class ErpStatus(Schema):
    adapter: Literal["upload", "odoo"]
    configured: bool
    connected: bool | None = None
    inspection_points: int | None = None
    last_upload_at: str | None = None
    error: str | None = None


class ServiceStatus(Schema):
    status: Literal["running"] = "running"
    version: str
    upstream: UpstreamSession
    cache: CacheStats
    erp_adapter: str
    timestamp: str


# ------------------------------------------------------------------ devices and clusters
class DeviceMetaIn(Schema):
    """``meta`` of a device: ``location`` is required; other keys are kept as given."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    location: Annotated[list[LocationPart], Field(min_length=1, max_length=16)]


_RODENT_EXAMPLE = {  # the contract's map_erp_to_device
    "id": "00-00-00-00-00-00-00-00",
    "meta": {"location": ["Customer Name", "Site Name", "Area Name", "ERP_Reference", "Internal", "Bait/Lured"]},
    "status": "pending",
    "guid": "erp-sync-1042",
}
_GATEWAY_EXAMPLE = {  # the contract's gateway device: no device_type, 4 location elements
    "id": "58-A0-CB-FF-FE-80-00-01",
    "meta": {"location": ["Customer Name", "Site Name", "Area Name", "Gateway_Location"]},
    "status": "active",
    "guid": "gateway-identifier",
}


class DeviceCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_RODENT_EXAMPLE, _GATEWAY_EXAMPLE]})

    id: DevEui = Field(DEFAULT_DEVICE_ID, description="DevEUI; the default id marks a device not yet deployed")
    device_type: DeviceType | None = Field(
        None, description="When absent: gateway for a 4-element location, rodent_sensor otherwise (which needs 6)"
    )
    meta: DeviceMetaIn
    status: DeviceStatus = "pending"
    guid: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")] | None = Field(
        None, description="Unique within its cluster; generated when absent"
    )


class DeviceUpdate(Input):
    """Fields to change; absent fields keep their value. ``meta`` keys are merged, ``meta.location`` replaced."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "active"}, {"id": "58A0CB000011F85E"}]})

    id: DevEui | None = None
    meta: DeviceMetaIn | None = None
    status: DeviceStatus | None = None


class Device(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_RODENT_EXAMPLE,
                    "device_type": "rodent_sensor",
                    "rec_type": TRAP,
                    "cluster_id": "61f0c0ffee0123456789abcd",
                    "cluster_name": "Customer Name rodent sensors",
                    "location": _RODENT_EXAMPLE["meta"]["location"],
                    "customer": "Customer Name",
                    "site": "Site Name",
                    "area": "Area Name",
                    "erp_reference": "ERP_Reference",
                    "placement": "Internal",
                    "configuration": "Bait/Lured",
                }
            ]
        }
    )

    id: str
    guid: str | None = None
    status: str | None = None
    device_type: str = Field(description="rodent_sensor, gateway, or other")
    rec_type: str
    cluster_id: str
    cluster_name: str
    meta: dict[str, Any]
    location: list[str]
    customer: str | None = None
    site: str | None = None
    area: str | None = None
    erp_reference: str | None = Field(None, description="location[3] of a rodent sensor: the ERP link")
    placement: str | None = None
    configuration: str | None = None


class ClusterSummary(Schema):
    id: str
    name: str
    rec_type: str
    device_type: str
    device_count: int


class ClusterList(Schema):
    items: list[ClusterSummary]
    next_cursor: str | None = None


class ClusterDetail(ClusterSummary):
    devices: list[Device]


class Discovery(Schema):
    clusters: list[ClusterSummary]
    cluster_count: int
    device_count: int
    devices_by_type: dict[str, int]
    refreshed_at: str
    duration_ms: float


# ------------------------------------------------------------------ ERP
class InspectionPoint(Schema):
    id: str
    reference: str = Field(description="The ERP's internal reference; matches location[3] of a rodent sensor")
    name: str = ""
    customer: str
    site: str
    area: str
    placement: str = "Internal"
    configuration: str = "Bait/Lured"
    source: Literal["upload", "odoo"]


class InspectionPointIn(Input):
    """One uploaded inspection point. Give customer, site and area, or a ``name`` "Customer - Area"."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    reference: Text
    name: Annotated[str, Field(max_length=256), Printable] = ""
    customer: Text | None = None
    site: Text | None = None
    area: Text | None = None
    placement: Text | None = None
    configuration: Text | None = None


class InspectionPointList(Schema):
    adapter: str
    count: int
    items: list[InspectionPoint]


class UploadResult(Schema):
    adapter: Literal["upload"] = "upload"
    received: int
    stored: int
    removed: int = Field(description="Points of the previous upload absent from this one")
    uploaded_at: str


class PointMapping(Schema):
    point: InspectionPoint
    device: Device


class GapAnalysis(Schema):
    adapter: str
    total_points: int
    mapped: int
    unmapped: int
    coverage_percent: float
    mappings: list[PointMapping]
    unmapped_points: list[InspectionPoint]
    unmatched_devices: int = Field(description="Rodent sensors whose location[3] matches no inspection point")


class SyncItem(Schema):
    point_id: str
    reference: str
    outcome: Literal["created", "would_create", "skipped"]
    cluster_id: str | None = None
    device: Device | None = None
    reason: str | None = None


class SyncResult(Schema):
    dry_run: bool
    created: int
    already_mapped: int
    skipped: int
    coverage_before: float
    coverage_after: float
    items: list[SyncItem]


# ------------------------------------------------------------------ benchmark
class OperationTiming(Schema):
    calls: int
    successes: int = Field(description="2xx answers only")
    failures: int
    statuses: dict[str, int] = Field(description="HTTP status (or timeout / error) → count")
    min_ms: float | None = None
    p50_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None


class Benchmark(Schema):
    iterations: int
    total_ms: float
    operations: dict[str, OperationTiming]
