"""Each API family renders errors in its own contract's envelope; unexpected failures never leak internals."""

import json

import pytest
from pydantic import BaseModel

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.errors import Conflict, InvalidInput, NotFound
from localcloud.apigw import LambdaContext, http_event


class Item(BaseModel):
    name: str
    quantity: int


def _app(style):
    app = make_public_resolver(style)

    @app.post("/items")
    def create(payload: Item) -> Item:
        return payload

    @app.get("/missing")
    def missing() -> dict:
        raise NotFound("Item not found")

    @app.get("/conflict")
    def conflict() -> dict:
        raise Conflict("Item exists", field="name")

    @app.get("/invalid")
    def invalid() -> dict:
        raise InvalidInput("quantity must be even", field="quantity")

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("secret internals: password=hunter2")

    return app


def _call(app, method, path, body=None):
    event = http_event(
        method, path, headers={"content-type": "application/json"}, body=json.dumps(body) if body is not None else None
    )
    result = app.resolve(event, LambdaContext("test"))
    return result["statusCode"], json.loads(result["body"])


def test_detail_family_matches_fastapi_shapes():
    app = _app(ErrorStyle.DETAIL)
    assert _call(app, "GET", "/missing") == (404, {"detail": "Item not found"})
    assert _call(app, "GET", "/conflict") == (409, {"detail": "Item exists"})
    assert _call(app, "GET", "/invalid") == (
        422,
        {"detail": [{"loc": ["body", "quantity"], "msg": "quantity must be even", "type": "validation_error"}]},
    )
    status, body = _call(app, "POST", "/items", {"name": "x"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "quantity"]
    assert _call(app, "GET", "/nope") == (404, {"detail": "Not Found"})


def test_mobivisor_family_nests_error_and_message_under_detail():
    app = _app(ErrorStyle.MOBIVISOR)
    assert _call(app, "GET", "/missing") == (404, {"detail": {"error": "Not Found", "message": "Item not found"}})
    status, body = _call(app, "POST", "/items", {"name": "x"})
    assert status == 422 and body["detail"]["error"] == "Validation Error"


def test_mobile_family_uses_a_title_as_error_and_400_for_validation():
    app = _app(ErrorStyle.MOBILE)
    assert _call(app, "GET", "/missing") == (404, {"error": "Not Found", "message": "Item not found"})
    assert _call(app, "POST", "/items", {}) == (
        400,
        {"error": "Missing required fields", "message": "name and quantity are required"},
    )
    assert _call(app, "POST", "/items", {"name": "x"}) == (
        400,
        {"error": "Missing required fields", "message": "quantity is required"},
    )
    status, body = _call(app, "POST", "/items", {"name": "x", "quantity": "many"})
    assert status == 400 and body["error"] == "Invalid request" and body["message"].startswith("quantity: ")


def test_customer_family_uses_success_false_upper_case_codes_and_a_detail_per_failing_field():
    app = _app(ErrorStyle.CUSTOMER)
    assert _call(app, "GET", "/missing") == (404, {"success": False, "message": "Item not found", "error": "NOT_FOUND"})
    assert _call(app, "GET", "/conflict") == (
        409,
        {
            "success": False,
            "message": "Item exists",
            "error": "CONFLICT",
            "details": [{"msg": "Item exists", "param": "name", "path": "name", "location": "body"}],
        },
    )
    status, body = _call(app, "POST", "/items", {"quantity": "many"})
    assert status == 400
    assert body["success"] is False and body["error"] == "VALIDATION_ERROR" and body["message"] == "Validation failed"
    assert [(d["param"], d["location"]) for d in body["details"]] == [("name", "body"), ("quantity", "body")]
    assert all("many" not in d["msg"] for d in body["details"])  # never the submitted value


@pytest.mark.parametrize("style", list(ErrorStyle))
def test_unexpected_exception_is_a_generic_500_in_the_family_shape(style, capsys):
    status, body = _call(_app(style), "GET", "/boom")
    assert status == 500
    assert "hunter2" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert "Internal server error" in json.dumps(body)


def test_given_database_failure_when_calling_a_route_then_500_without_internals(api):
    import boto3

    from tests.support import STACK

    user = api.register()
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=STACK.physical_name("DevicesTable"))
    reply = api.call("GET", "/api/v1/devices", token=user["token"])
    assert (reply.status, reply.body) == (500, {"detail": "Internal server error"})
