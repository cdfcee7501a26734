"""The Mobivisor proxy's contract (../shared/specs/mobivisor-proxy.md).

Device list and details are Mobivisor's own JSON, passed through unchanged: the proxy does not reshape
what the upstream owns, so fields Mobivisor adds later reach callers without a release of ours.
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Any

from pydantic import ConfigDict, RootModel, model_validator

from fleetgate.core.limits import clip_depth
from fleetgate.core.schemas import Schema


class _Upstream(RootModel[Any]):
    """Mobivisor's JSON as it came, but nested at most 32 levels (deeper parts replaced by a marker, as for any
    stored JSON: see core.limits.clip_depth), so no upstream answer can break the response."""

    @model_validator(mode="before")
    @classmethod
    def _clip(cls, data: Any) -> Any:
        return clip_depth(data)


class MobivisorDevices(_Upstream):
    """Mobivisor's answer to GET /devices, unchanged."""

    model_config = ConfigDict(
        defer_build=True,
        json_schema_extra={
            "example": {
                "devices": [
                    {"id": "123", "name": "Device 1", "status": "online"},
                    {"id": "456", "name": "Device 2", "status": "offline"},
                ]
            }
        },
    )


class MobivisorDevice(_Upstream):
    """Mobivisor's answer to GET /devices/{id}, unchanged."""

    model_config = ConfigDict(
        defer_build=True,
        json_schema_extra={
            "example": {
                "id": "123",
                "name": "Device 1",
                "status": "online",
                "last_seen": "2025-10-18T10:30:00Z",
                "location": "Store A",
                "firmware_version": "1.2.3",
            }
        },
    )


class DeviceDeleted(Schema):
    message: str = "Device deleted successfully"
    device_id: str
