"""One OpenAPI document for the whole API, and Swagger UI for it.

Every function's module keeps a Powertools resolver ``app`` that knows its routes and
models; Powertools' ``OpenAPIMerge`` merges their schemas into one document with an HTTP
bearer scheme. Operations of resolvers that do not authenticate (``app.authenticated``
is False) and the public paths of those that do (``app.public_paths``: register, log in, health) are marked
public (``security: []``).

Swagger UI's assets come from ``node_modules/swagger-ui-dist`` (``npm ci``), else from the
copy Powertools bundles, else from a CDN, so /docs works on an offline laptop.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

from localcloud.lambdas import Functions
from localcloud.template import ROOT

log = logging.getLogger("localcloud.docs")

TITLE = "Fleetgate API"
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
STATIC_PREFIX = "/docs/static/"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
API_KEY_HEADER = "X-API-Key"
# Tags of the route groups whose operations name none (a route's own tags win); others: the function's name in words.
TAGS = {
    "AuthFunction": "Auth",
    "IngestFunction": "Ingest",
    "IngestKeysFunction": "Ingest",
    "DeadLettersFunction": "Flows",
    "MobileFunction": "Mobile",
    "CustomerDeviceFunction": "Customer device",
    "EstatesAdminFunction": "Admin",
    "CustomersAdminFunction": "Admin",
}

_SWAGGER_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{js}"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                                 persistAuthorization: true}});
  </script>
</body>
</html>
"""


def _assets() -> tuple[Path | None, str, str]:
    """(directory served under /docs/static/ or None for the CDN, bundle file, css file)."""
    npm = ROOT / "node_modules" / "swagger-ui-dist"
    if (npm / "swagger-ui-bundle.js").is_file():
        return npm, "swagger-ui-bundle.js", "swagger-ui.css"
    try:
        import aws_lambda_powertools.event_handler.openapi.swagger_ui as bundled

        powertools = Path(bundled.__file__).parent
        if (powertools / "swagger-ui-bundle.min.js").is_file():
            return powertools, "swagger-ui-bundle.min.js", "swagger-ui.min.css"
    except ImportError:  # pragma: no cover - Powertools is a runtime dependency
        pass
    return None, "swagger-ui-bundle.js", "swagger-ui.css"


def _version() -> str:
    try:
        return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "0.0.0"


class ApiDocs:
    """The document and Swagger UI of one HTTP API of the template (``api``, a logical id; default: the main one)."""

    def __init__(self, functions: Functions, *, api: str | None = None, title: str | None = None):
        self.functions = functions
        self.api = api or functions.main_api
        self.title = title or (TITLE if self.api == functions.main_api else f"Fleetgate {_words(self.api)}")
        self.mismatches: list[str] = []  # template routes without a handler route and vice versa
        self.collisions: list[str] = []  # component names two route groups define differently
        self._json: bytes | None = None
        self._lock = threading.Lock()
        self._static_dir, self._js, self._css = _assets()

    # ---------------------------------------------------------------- OpenAPI
    def openapi_json(self) -> bytes:
        """The merged document (built once, on first use: it imports every function module)."""
        with self._lock:
            if self._json is None:
                self._json = self._build().encode()
        return self._json

    def openapi(self) -> dict[str, Any]:
        return json.loads(self.openapi_json())

    def _build(self) -> str:
        from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
        from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

        merge = OpenAPIMerge(
            title=self.title,
            version=_version(),
            on_conflict="warn",
            security_schemes={
                "bearerAuth": HTTPBearer(bearerFormat="JWT", description="POST /api/v1/auth/login's access_token"),
                "apiKeyAuth": APIKey(**{"in": APIKeyIn.header}, name=API_KEY_HEADER, description="An ingest key"),
            },
            security=[{"bearerAuth": []}],
        )
        self.mismatches = []
        self.collisions = []
        components: dict[str, Any] = {}  # every component schema merged so far, by name
        for logical_id, fn in self.functions.stack.functions.items():
            routes = [r for r in fn.routes if r.api == self.api]
            if not routes:
                continue
            self.functions.handler(logical_id)  # imports the module as Lambda would
            app = getattr(sys.modules[fn.module], "app", None)
            if app is None or not hasattr(app, "get_openapi_schema"):
                log.warning("%s (%s) has no Powertools resolver named app: not in /openapi.json", logical_id, fn.module)
                continue
            schema = app.get_openapi_schema().model_dump(by_alias=True, exclude_none=True, mode="json")
            public = getattr(app, "public_paths", frozenset())
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    if method not in HTTP_METHODS:
                        continue
                    operation.setdefault("tags", [tag_of(logical_id)])
                    if _takes_api_key(operation):
                        operation["security"] = [{"apiKeyAuth": []}]  # Authorize fills X-API-Key
                    elif not getattr(app, "authenticated", True) or path.rstrip("/") in public:
                        operation["security"] = []
            self.mismatches += _compare(logical_id, routes, schema)
            merge.add_schema(
                _distinct_components(schema, logical_id.removesuffix("Function"), components, self.collisions)
            )
        for problem in self.mismatches + self.collisions:
            log.warning("%s", problem)
        return merge.get_openapi_json_schema()

    # ---------------------------------------------------------------- Swagger UI
    def swagger_html(self) -> bytes:
        base = STATIC_PREFIX.rstrip("/") if self._static_dir else CDN
        return _SWAGGER_HTML.format(title=self.title, js=f"{base}/{self._js}", css=f"{base}/{self._css}").encode()

    def static(self, name: str) -> tuple[bytes, str] | None:
        """An asset file by name (no sub-paths), with its content type; None when there is none."""
        if self._static_dir is None or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self._static_dir / name
        if not path.is_file():
            return None
        return path.read_bytes(), mimetypes.guess_type(name)[0] or "application/octet-stream"


def _words(logical_id: str) -> str:
    """``MicroshareApi`` → ``Microshare API``."""
    name = logical_id.removesuffix("Api")
    return f"{name} API" if name else logical_id


def tag_of(logical_id: str) -> str:
    """The tag of a function's operations that name none: :data:`TAGS`, else its name in words."""
    return TAGS.get(logical_id) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", logical_id.removesuffix("Function"))


def _takes_api_key(operation: dict[str, Any]) -> bool:
    """Whether an operation authenticates by the X-API-Key header; the parameter goes, the security scheme says it."""
    params = operation.get("parameters", [])
    kept = [p for p in params if not (p.get("in") == "header" and p.get("name", "").lower() == API_KEY_HEADER.lower())]
    if len(kept) == len(params):
        return False
    operation["parameters"] = kept
    return True


def _distinct_components(
    schema: dict[str, Any], prefix: str, merged: dict[str, Any], collisions: list[str] | None = None
) -> dict[str, Any]:
    """``schema`` with each component that another function already defined differently under the same name
    (two contexts' ``ErrorBody``) renamed ``<prefix><name>``, and its references with it: the merge keeps one
    definition per name, so without this one context's operations would point at the other's model. Each such
    name is reported in ``collisions``: one name per model is the rule (a test holds the document to it), the
    renaming only keeps the document true meanwhile."""
    own = schema.get("components", {}).get("schemas", {})
    clashes = {name for name, body in own.items() if name in merged and merged[name] != body}
    if collisions is not None:
        collisions += [
            f"{prefix} defines the component {name} unlike an earlier route group" for name in sorted(clashes)
        ]
    if clashes:
        text = json.dumps(schema)
        for name in clashes:
            text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{prefix}{name}"')
        schema = json.loads(text)
        schemas = schema["components"]["schemas"]
        for name in clashes:
            schemas[f"{prefix}{name}"] = schemas.pop(name)
    merged.update(schema.get("components", {}).get("schemas", {}))
    return schema


def _compare(logical_id: str, routes: list[Any], schema: dict[str, Any]) -> list[str]:
    """Routes template.yaml sends to a function that its resolver lacks, and the reverse."""
    if any(r.method == "ANY" or "+}" in r.path for r in routes):
        return []  # catch-all routes: anything may be handled
    in_template = {(r.method.lower(), r.path.rstrip("/") or "/") for r in routes}
    in_app = {
        (method, path.rstrip("/") or "/")
        for path, item in schema.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    }
    problems = [
        f"template.yaml routes {m.upper()} {p} to {logical_id}, whose app has no such route"
        for m, p in sorted(in_template - in_app)
    ]
    problems += [
        f"{logical_id}'s app defines {m.upper()} {p}, which template.yaml does not route (API Gateway would answer 404)"
        for m, p in sorted(in_app - in_template)
    ]
    return problems
