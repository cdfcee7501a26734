"""Mobivisor proxy routes (../shared/specs/mobivisor-proxy.md): list, get and delete Mobivisor devices."""

from fleetgate.core.api import ErrorStyle, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.mobivisor import service
from fleetgate.mobivisor.schemas import DeviceDeleted, MobivisorDevice, MobivisorDevices
from fleetgate.users.service import authenticate

app = make_resolver(
    ErrorStyle.MOBIVISOR,
    authenticate=authenticate,
    permission="mobivisor:read",
    permissions={"DELETE /api/v1/mobivisor/devices/<device_id>": "mobivisor:write"},
)


@app.get("/api/v1/mobivisor/devices")
def list_devices() -> MobivisorDevices:
    return service.list_devices(app.current_event.raw_query_string)


@app.get("/api/v1/mobivisor/devices/<device_id>")
def get_device(device_id: str) -> MobivisorDevice:
    return service.get_device(device_id, app.current_event.raw_query_string)


@app.delete("/api/v1/mobivisor/devices/<device_id>")
def delete_device(device_id: str) -> DeviceDeleted:
    return service.delete_device(device_id, app.current_event.raw_query_string)


lambda_handler = http_handler(app.resolve)
