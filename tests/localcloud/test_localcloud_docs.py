"""The merged OpenAPI document and Swagger UI, built from the real template and function modules."""

from __future__ import annotations

import pytest

from localcloud.docs import ApiDocs
from localcloud.lambdas import Functions
from localcloud.server import Gateway
from localcloud.template import ROOT, stack


@pytest.fixture(scope="module")
def docs() -> ApiDocs:
    return ApiDocs(Functions(stack()))


@pytest.mark.parametrize(
    "api, title", [("FleetgateApi", "Fleetgate API"), ("MicroshareApi", "Fleetgate Microshare API")]
)
def test_given_each_http_api_when_merging_then_its_own_document_covers_exactly_its_template_routes(docs, api, title):
    own = ApiDocs(docs.functions, api=api)
    document = own.openapi()

    assert document["info"]["title"] == title
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert operations == {(r.method, r.path) for r in docs.functions.stack.routes(api)}
    assert own.mismatches == []  # every app route is wired in template.yaml, and the reverse


def test_given_the_merged_document_when_reading_models_then_requests_and_responses_reference_component_schemas(docs):
    document = docs.openapi()

    schemas = document["components"]["schemas"]
    assert {"Device", "DeviceCreate", "DeviceList", "Label", "RegisterRequest", "TokenOut", "UserOut"} <= set(schemas)
    create = document["paths"]["/api/v1/devices"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DeviceCreate")
    assert (
        "application/x-www-form-urlencoded" in document["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    )


def test_given_public_and_protected_routes_when_merging_then_bearer_auth_applies_except_to_public_ones(docs):
    document = docs.openapi()

    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "POST /api/v1/auth/login's access_token",
    }
    assert document["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An ingest key",
    }
    ingest = document["paths"]["/api/v1/ingest/chirpstack"]["post"]
    assert ingest["security"] == [{"apiKeyAuth": []}]  # Authorize fills the header; no parameter asks for it
    assert "x-api-key" not in [p["name"].lower() for p in ingest.get("parameters", [])]
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    assert document["paths"]["/api/v1/auth/register"]["post"]["security"] == []
    assert "security" not in document["paths"]["/api/v1/devices"]["get"]  # inherits bearerAuth


def test_given_swagger_ui_when_requested_then_it_points_at_openapi_json_and_serves_its_assets(docs):
    gateway = Gateway(docs.functions, docs)

    page = gateway.handle("GET", "/docs", [], b"")

    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b'url: "/openapi.json"' in page.body
    if (ROOT / "node_modules" / "swagger-ui-dist").is_dir():
        assert b"/docs/static/swagger-ui-bundle.js" in page.body
        asset = gateway.handle("GET", "/docs/static/swagger-ui-bundle.js", [], b"")
        assert asset.status == 200 and "javascript" in asset.headers["content-type"]
    assert gateway.handle("GET", "/docs/static/../package.json", [], b"").status == 404
    assert gateway.handle("GET", "/docs/static/nope.js", [], b"").status == 404


def test_given_a_route_missing_from_the_template_when_comparing_then_it_is_reported(docs):
    from localcloud.docs import _compare

    routes = [r for r in docs.functions.stack.functions["LabelsFunction"].routes if r.method != "DELETE"]
    schema = {"paths": {"/api/v1/labels/{label_id}": {"delete": {}}}}

    problems = _compare("LabelsFunction", routes, schema)

    assert (
        "LabelsFunction's app defines DELETE /api/v1/labels/{label_id}, which template.yaml does not route "
        "(API Gateway would answer 404)" in problems
    )


def test_given_two_contexts_with_a_path_of_the_same_name_when_documenting_then_each_api_shows_its_own_model(docs):
    """GET /api/v1/devices/{device_id} is the device manager's on the main API and Microshare's on its own."""

    def model(api: str | None, path: str) -> dict:
        document = ApiDocs(docs.functions, api=api).openapi()
        answer = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        return document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]

    assert "dev_eui" in model(None, "/api/v1/devices/{device_id}")["properties"]
    assert "cluster_id" in model("MicroshareApi", "/api/v1/devices/{device_id}")["properties"]
