"""Storage routes (device-manager Storage Management): time-series storages and reading their points."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.storages import service
from fleetgate.storages.schemas import DataPoint, Storage, StorageCreate, StorageUpdate
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)

Instant = Annotated[str | None, Query(max_length=40, description="ISO 8601 time, inclusive")]


@app.get("/api/v1/storages")
def list_storages(limit: Limit = 50, cursor: Cursor = None) -> Page[Storage]:
    return service.list_storages(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/storages", responses={201: {"description": "Storage created"}})
def create_storage(payload: StorageCreate) -> Response[Storage]:
    return Response(201, content_types.APPLICATION_JSON, service.create_storage(app.principal, payload))


@app.get("/api/v1/storages/<storage_id>")
def get_storage(storage_id: str) -> Storage:
    return service.get_storage(app.principal, storage_id)


@app.put("/api/v1/storages/<storage_id>")
def update_storage(storage_id: str, payload: StorageUpdate) -> Storage:
    return service.update_storage(app.principal, storage_id, payload)


@app.delete("/api/v1/storages/<storage_id>", responses={204: {"description": "Storage deleted"}})
def delete_storage(storage_id: str) -> Response[None]:
    service.delete_storage(app.principal, storage_id)
    return Response(204)


@app.get("/api/v1/storages/<storage_id>/data")
def storage_data(
    storage_id: str,
    device_id: Annotated[str | None, Query(max_length=64, description="One device's points")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="ISO 8601 time, inclusive")] = None,
    to: Instant = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DataPoint]:
    return service.read_data(
        app.principal, storage_id, device_id=device_id, start=from_, end=to, limit=limit, cursor=cursor
    )


lambda_handler = http_handler(app.resolve)
