"""Integration routes (device-manager Integration Management): HTTP and MQTT integrations, test sends, history."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.history.schemas import IntegrationExecution
from fleetgate.integrations import service
from fleetgate.integrations.schemas import (
    Integration,
    IntegrationCreate,
    IntegrationTestRequest,
    IntegrationTestResult,
    IntegrationUpdate,
)
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/integrations")
def list_integrations(limit: Limit = 50, cursor: Cursor = None) -> Page[Integration]:
    return service.list_integrations(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/integrations", responses={201: {"description": "Integration created"}})
def create_integration(payload: IntegrationCreate) -> Response[Integration]:
    return Response(201, content_types.APPLICATION_JSON, service.create_integration(app.principal, payload))


# Registered before /{integration_id} so "history" is never taken for an id.
@app.get("/api/v1/integrations/history")
def all_history(limit: Limit = 50, cursor: Cursor = None) -> Page[IntegrationExecution]:
    return service.all_integration_history(app.principal, limit=limit, cursor=cursor)


@app.get("/api/v1/integrations/<integration_id>")
def get_integration(integration_id: str) -> Integration:
    return service.get_integration(app.principal, integration_id)


@app.put("/api/v1/integrations/<integration_id>")
def update_integration(integration_id: str, payload: IntegrationUpdate) -> Integration:
    return service.update_integration(app.principal, integration_id, payload)


@app.delete("/api/v1/integrations/<integration_id>", responses={204: {"description": "Integration deleted"}})
def delete_integration(integration_id: str) -> Response[None]:
    service.delete_integration(app.principal, integration_id)
    return Response(204)


@app.get("/api/v1/integrations/<integration_id>/history")
def integration_history(integration_id: str, limit: Limit = 50, cursor: Cursor = None) -> Page[IntegrationExecution]:
    return service.integration_history(app.principal, integration_id, limit=limit, cursor=cursor)


@app.get("/api/v1/integrations/<integration_id>/history/<history_id>")
def integration_history_entry(integration_id: str, history_id: str) -> IntegrationExecution:
    return service.integration_history_entry(app.principal, integration_id, history_id)


@app.post("/api/v1/integrations/<integration_id>/test")
def test_integration(integration_id: str, payload: IntegrationTestRequest) -> IntegrationTestResult:
    return service.test_integration(app.principal, integration_id, payload)


lambda_handler = http_handler(app.resolve)
