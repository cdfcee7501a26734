"""Staff routes for financed phones (/api/admin/customers): customers, instalments, lock and unlock, the trail.
A device-manager admin token is required."""

from __future__ import annotations  # route signatures are read on a route's first call, not at import

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import ErrorStyle, make_resolver
from fleetgate.core.auth import ADMIN
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from fleetgate.financing import staff_service as service
from fleetgate.financing.schemas import (
    CustomerOut,
    Envelope,
    errors,
)
from fleetgate.financing.staff_schemas import (
    AuditPage,
    CustomerCreate,
    CustomerPage,
    CustomerUpdate,
    Deleted,
    InstalmentUpdate,
    InstalmentUpdated,
    LockCommandIssued,
    LockRequest,
    LockStatus,
)
from fleetgate.users.authentication import authenticate

app = make_resolver(
    ErrorStyle.CUSTOMER, authenticate=authenticate, permission=ADMIN
)  # staff: 403 before the body is read
TAGS = ["Admin: customers"]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT})")]
Cursor = Annotated[str | None, Query(max_length=4096, description="nextCursor of the previous page")]


@app.post(
    "/api/admin/customers",
    summary="Register a financed phone's customer and instalments",
    tags=TAGS,
    responses={201: {"description": "Customer created"}, **errors(400, 401, 403, 409)},
)
def create_customer(payload: CustomerCreate) -> Response[Envelope[CustomerOut]]:
    body = Envelope(message="Customer created successfully", data=service.create(app.principal, payload))
    return Response(201, content_types.APPLICATION_JSON, body)


@app.get("/api/admin/customers", summary="List customers, newest first", tags=TAGS, responses=errors(400, 401, 403))
def list_customers(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Envelope[CustomerPage]:
    page = service.list_customers(app.principal, limit=limit, cursor=cursor)
    return Envelope(message="Customers fetched successfully", data=page)


@app.get("/api/admin/customers/<customer_id>", summary="One customer", tags=TAGS, responses=errors(400, 401, 403, 404))
def get_customer(customer_id: str) -> Envelope[CustomerOut]:
    return Envelope(message="Customer fetched successfully", data=service.get(app.principal, customer_id))


@app.put(
    "/api/admin/customers/<customer_id>",
    summary="Change a customer (absent fields keep their value)",
    tags=TAGS,
    responses=errors(400, 401, 403, 404, 409),
)
def update_customer(customer_id: str, payload: CustomerUpdate) -> Envelope[CustomerOut]:
    data = service.update(app.principal, customer_id, payload)
    return Envelope(message="Customer updated successfully", data=data)


@app.delete(
    "/api/admin/customers/<customer_id>",
    summary="Delete a customer (their command trail is kept)",
    tags=TAGS,
    responses=errors(400, 401, 403, 404),
)
def delete_customer(customer_id: str) -> Envelope[Deleted]:
    return Envelope(message="Customer deleted successfully", data=service.delete(app.principal, customer_id))


@app.put(
    "/api/admin/customers/<customer_id>/emis/<month>",
    summary="Mark an instalment paid or unpaid",
    tags=TAGS,
    responses=errors(400, 401, 403, 404, 409, 503),
)
def set_instalment(customer_id: str, month: str, payload: InstalmentUpdate) -> Envelope[InstalmentUpdated]:
    data = service.set_instalment(app.principal, customer_id, month, payload)
    return Envelope(message="EMI updated successfully", data=data)


@app.put(
    "/api/admin/customers/<customer_id>/lock",
    summary="Lock or unlock the phone (sent over FCM until it confirms)",
    tags=TAGS,
    responses=errors(400, 401, 403, 404, 503),
)
def lock(customer_id: str, payload: LockRequest) -> Envelope[LockCommandIssued]:
    data = service.lock(app.principal, customer_id, payload)
    verb = "Lock" if payload.is_locked else "Unlock"
    return Envelope(message=f"{verb} command sent to device. Waiting for device confirmation.", data=data)


@app.get(
    "/api/admin/customers/<customer_id>/lock-status",
    summary="Lock state and the pending command",
    tags=TAGS,
    responses=errors(400, 401, 403, 404),
)
def lock_status(customer_id: str) -> Envelope[LockStatus]:
    return Envelope(message="Lock status fetched successfully", data=service.lock_status(app.principal, customer_id))


@app.get(
    "/api/admin/customers/<customer_id>/commands",
    summary="The command trail: commands, delivery attempts, lock-responses (newest first)",
    tags=TAGS,
    responses=errors(400, 401, 403, 404),
)
def command_trail(customer_id: str, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Envelope[AuditPage]:
    data = service.command_trail(app.principal, customer_id, limit=limit, cursor=cursor)
    return Envelope(message="Command history fetched successfully", data=data)


lambda_handler = http_handler(app.resolve)
