"""Mobivisor proxy routes (../shared/specs/mobivisor-proxy.md): list, get and delete Mobivisor devices."""

from fleetgate.core.api import ErrorStyle, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.mobivisor import service
from fleetgate.mobivisor.schemas import DeviceDeleted, MobivisorDevice, MobivisorDevices
from fleetgate.users.authentication import authenticate

app = make_resolver(
    ErrorStyle.MOBIVISOR,
    authenticate=authenticate,
    permission="mobivisor:read",
    permissions={"DELETE /api/v1/mobivisor/devices/<device_id>": "mobivisor:write"},
)


def _error(error: str, message: str, **more: object) -> dict:
    return {"detail": {"error": error, "message": message, **more}}


# What each route can answer besides success, with the contract's own examples.
UPSTREAM = {
    401: {
        "description": "Mobivisor refused our bearer token (its own 401 or 403 status)",
        "example": _error("Unauthorized", "Invalid or missing Bearer token for Mobivisor API", upstream_status=401),
    },
    500: {
        "description": "MOBIVISOR_API_URL or MOBIVISOR_API_TOKEN is not configured",
        "example": _error("Configuration Error", "Mobivisor API URL is not configured"),
    },
    502: {
        "description": "Mobivisor answered an error, or could not be reached",
        "example": _error(
            "Bad Gateway",
            "Mobivisor API returned error 500",
            upstream_status=500,
            upstream_error={"error": "Internal server error"},
        ),
    },
    504: {
        "description": "Mobivisor did not answer in time (10 s in total, 5 s to connect)",
        "example": _error("Gateway Timeout", "Mobivisor API did not respond in time"),
    },
}
NOT_FOUND = {
    404: {
        "description": "No such device on Mobivisor",
        "example": _error("Not Found", "Resource not found on Mobivisor API"),
    }
}


@app.get("/api/v1/mobivisor/devices", responses=UPSTREAM)
def list_devices() -> MobivisorDevices:
    """List all devices. Mobivisor's answer to GET /devices, passed through unchanged."""
    return service.list_devices(app.current_event.raw_query_string)


@app.get("/api/v1/mobivisor/devices/<device_id>", responses={**UPSTREAM, **NOT_FOUND})
def get_device(device_id: str) -> MobivisorDevice:
    """Get device details. Mobivisor's answer to GET /devices/{device_id}, passed through unchanged."""
    return service.get_device(device_id, app.current_event.raw_query_string)


@app.delete("/api/v1/mobivisor/devices/<device_id>", responses={**UPSTREAM, **NOT_FOUND})
def delete_device(device_id: str) -> DeviceDeleted:
    """Delete a device from Mobivisor. Answers the contract's ``{"message", "device_id"}``."""
    return service.delete_device(device_id, app.current_event.raw_query_string)


lambda_handler = http_handler(app.resolve)
