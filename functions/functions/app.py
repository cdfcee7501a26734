"""Function routes (device-manager Function Management): user JavaScript, versions, test runs, history."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.functions import service
from fleetgate.functions.schemas import (
    Function,
    FunctionCreate,
    FunctionTestRequest,
    FunctionTestResult,
    FunctionUpdate,
    FunctionVersion,
)
from fleetgate.history.schemas import FunctionExecution
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/functions")
def list_functions(limit: Limit = 50, cursor: Cursor = None) -> Page[Function]:
    return service.list_functions(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/functions", responses={201: {"description": "Function created"}})
def create_function(payload: FunctionCreate) -> Response[Function]:
    return Response(201, content_types.APPLICATION_JSON, service.create_function(app.principal, payload))


# Registered before /{function_id} so "history" is never taken for an id.
@app.get("/api/v1/functions/history")
def all_history(limit: Limit = 50, cursor: Cursor = None) -> Page[FunctionExecution]:
    return service.all_function_history(app.principal, limit=limit, cursor=cursor)


@app.get("/api/v1/functions/<function_id>")
def get_function(function_id: str) -> Function:
    return service.get_function(app.principal, function_id)


@app.put("/api/v1/functions/<function_id>")
def update_function(function_id: str, payload: FunctionUpdate) -> Function:
    return service.update_function(app.principal, function_id, payload)


@app.delete("/api/v1/functions/<function_id>", responses={204: {"description": "Function deleted"}})
def delete_function(function_id: str) -> Response[None]:
    service.delete_function(app.principal, function_id)
    return Response(204)


@app.get("/api/v1/functions/<function_id>/history")
def function_history(function_id: str, limit: Limit = 50, cursor: Cursor = None) -> Page[FunctionExecution]:
    return service.function_history(app.principal, function_id, limit=limit, cursor=cursor)


@app.get("/api/v1/functions/<function_id>/versions")
def function_versions(function_id: str, limit: Limit = 50, cursor: Cursor = None) -> Page[FunctionVersion]:
    return service.list_versions(app.principal, function_id, limit=limit, cursor=cursor)


@app.post("/api/v1/functions/<function_id>/test")
def test_function(function_id: str, payload: FunctionTestRequest) -> FunctionTestResult:
    return service.test_function(app.principal, function_id, payload)


lambda_handler = http_handler(app.resolve)
