"""Flow routes (device-manager Flow Management): flow graphs (enable/disable through PUT), history."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.flows import service
from fleetgate.flows.schemas import Flow, FlowCreate, FlowUpdate
from fleetgate.history.schemas import FlowExecution
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/flows")
def list_flows(limit: Limit = 50, cursor: Cursor = None) -> Page[Flow]:
    return service.list_flows(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/flows", responses={201: {"description": "Flow created"}})
def create_flow(payload: FlowCreate) -> Response[Flow]:
    return Response(201, content_types.APPLICATION_JSON, service.create_flow(app.principal, payload))


# Registered before /{flow_id} so "history" is never taken for an id.
@app.get("/api/v1/flows/history")
def all_history(limit: Limit = 50, cursor: Cursor = None) -> Page[FlowExecution]:
    return service.all_flow_history(app.principal, limit=limit, cursor=cursor)


@app.get("/api/v1/flows/<flow_id>")
def get_flow(flow_id: str) -> Flow:
    return service.get_flow(app.principal, flow_id)


@app.put("/api/v1/flows/<flow_id>")
def update_flow(flow_id: str, payload: FlowUpdate) -> Flow:
    return service.update_flow(app.principal, flow_id, payload)


@app.delete("/api/v1/flows/<flow_id>", responses={204: {"description": "Flow deleted"}})
def delete_flow(flow_id: str) -> Response[None]:
    service.delete_flow(app.principal, flow_id)
    return Response(204)


@app.get("/api/v1/flows/<flow_id>/history")
def flow_history(flow_id: str, limit: Limit = 50, cursor: Cursor = None) -> Page[FlowExecution]:
    return service.flow_history(app.principal, flow_id, limit=limit, cursor=cursor)


@app.get("/api/v1/flows/<flow_id>/history/<history_id>")
def flow_history_entry(flow_id: str, history_id: str) -> FlowExecution:
    return service.flow_history_entry(app.principal, flow_id, history_id)


lambda_handler = http_handler(app.resolve)
