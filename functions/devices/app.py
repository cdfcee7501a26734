"""Device routes (device-manager Device Management)."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.devices import service
from fleetgate.devices.schemas import (
    Device,
    DeviceCreate,
    DeviceHistoryEntry,
    DeviceLabels,
    DeviceLabelsUpdate,
    DeviceUpdate,
)
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/devices")
def list_devices(limit: Limit = 50, cursor: Cursor = None) -> Page[Device]:
    return service.list_devices(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/devices", responses={201: {"description": "Device created"}})
def create_device(payload: DeviceCreate) -> Response[Device]:
    return Response(201, content_types.APPLICATION_JSON, service.create_device(app.principal, payload))


# Registered before /{device_id} so "history" is never taken for an id.
@app.get("/api/v1/devices/history")
def all_history(limit: Limit = 50, cursor: Cursor = None) -> Page[DeviceHistoryEntry]:
    return service.all_device_history(app.principal, limit=limit, cursor=cursor)


@app.get("/api/v1/devices/<device_id>")
def get_device(device_id: str) -> Device:
    return service.get_device(app.principal, device_id)


@app.put("/api/v1/devices/<device_id>")
def update_device(device_id: str, payload: DeviceUpdate) -> Device:
    return service.update_device(app.principal, device_id, payload)


@app.delete("/api/v1/devices/<device_id>", responses={204: {"description": "Device deleted"}})
def delete_device(device_id: str) -> Response[None]:
    service.delete_device(app.principal, device_id)
    return Response(204)


@app.get("/api/v1/devices/<device_id>/history")
def device_history(device_id: str, limit: Limit = 50, cursor: Cursor = None) -> Page[DeviceHistoryEntry]:
    return service.device_history(app.principal, device_id, limit=limit, cursor=cursor)


@app.get("/api/v1/devices/<device_id>/labels")
def get_labels(device_id: str) -> DeviceLabels:
    return service.device_labels(app.principal, device_id)


@app.put("/api/v1/devices/<device_id>/labels")
def set_labels(device_id: str, payload: DeviceLabelsUpdate) -> DeviceLabels:
    return service.set_device_labels(app.principal, device_id, payload.label_ids)


lambda_handler = http_handler(app.resolve)
