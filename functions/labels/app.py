"""Label routes (device-manager Label Management)."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.devices import service
from fleetgate.devices.schemas import Label, LabelCreate, LabelUpdate, Membership
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/labels")
def list_labels(limit: Limit = 50, cursor: Cursor = None) -> Page[Label]:
    return service.list_labels(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/labels", responses={201: {"description": "Label created"}})
def create_label(payload: LabelCreate) -> Response[Label]:
    return Response(201, content_types.APPLICATION_JSON, service.create_label(app.principal, payload))


@app.get("/api/v1/labels/<label_id>")
def get_label(label_id: str) -> Label:
    return service.get_label(app.principal, label_id)


@app.put("/api/v1/labels/<label_id>")
def update_label(label_id: str, payload: LabelUpdate) -> Label:
    return service.update_label(app.principal, label_id, payload)


@app.delete("/api/v1/labels/<label_id>", responses={204: {"description": "Label deleted"}})
def delete_label(label_id: str) -> Response[None]:
    service.delete_label(app.principal, label_id)
    return Response(204)


@app.post(
    "/api/v1/labels/<label_id>/devices/<device_id>",
    responses={201: {"description": "Device added"}, 200: {"description": "Device was already in the label"}},
)
def add_device(label_id: str, device_id: str) -> Response[Membership]:
    membership, created = service.add_device_to_label(app.principal, label_id, device_id)
    return Response(201 if created else 200, content_types.APPLICATION_JSON, membership)


@app.delete("/api/v1/labels/<label_id>/devices/<device_id>", responses={204: {"description": "Device removed"}})
def remove_device(label_id: str, device_id: str) -> Response[None]:
    service.remove_device_from_label(app.principal, label_id, device_id)
    return Response(204)


lambda_handler = http_handler(app.resolve)
