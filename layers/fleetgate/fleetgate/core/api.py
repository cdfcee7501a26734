"""The resolver factory: one Powertools HTTP API resolver per function, in its API family's error style.

Each contract family has its own error envelope; :class:`ErrorStyle` renders
domain errors, request-validation failures, unknown routes and unexpected
exceptions in that envelope, so a handler module never formats an error itself.
Unexpected exceptions are logged with their traceback and answered with a
generic 500 that carries no internals.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.auth import ADMIN, Principal
from fleetgate.core.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from fleetgate.core.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_too_deep
from fleetgate.core.observability import logger
from fleetgate.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

# Query parameters every list route takes.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT})")]
Cursor = Annotated[str | None, Query(max_length=4096, description="next_cursor of the previous page")]


class Authenticator(Protocol):
    """Who calls, from a request's headers: a :class:`Principal`, or :class:`Unauthorized`."""

    def __call__(
        self, headers: Mapping[str, str] | None, *, accept_audience: str | None, only_audience: bool
    ) -> Principal: ...


class ErrorStyle(str, Enum):
    """The error envelope of an API family (see ../shared/DESIGN.md)."""

    DETAIL = "detail"  # device manager, Microshare: {"detail": ...}, validation 422
    MOBIVISOR = "mobivisor"  # {"detail": {"error", "message", ...}}
    MOBILE = "mobile"  # {"error": <title, e.g. "Unit not found">, "message"}, validation 400
    # {"success": false, "message", "error": "UPPER_CASE", "details"?: [{"msg", "param", "path", "location"}]},
    # validation 400 with one details item per failing field
    CUSTOMER = "customer"

    @property
    def validation_status(self) -> int:
        return 400 if self in (ErrorStyle.MOBILE, ErrorStyle.CUSTOMER) else 422

    def body(
        self,
        status: int,
        code: str,
        title: str,
        message: str,
        *,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if self is ErrorStyle.DETAIL:
            if status == 422 and extra and extra.get("errors"):
                return {"detail": list(extra["errors"])}  # several invalid items at once (e.g. rows of an upload)
            if status == 422 and field:
                item: dict[str, Any] = {"loc": _loc(field), "msg": message, "type": code}
                if extra:
                    item["ctx"] = dict(extra)  # FastAPI's place for details, e.g. the line of a JavaScript error
                return {"detail": [item]}
            return {"detail": message}
        if self is ErrorStyle.MOBIVISOR:
            return {"detail": {"error": title, "message": message, **(extra or {})}}
        if self is ErrorStyle.MOBILE:
            return {"error": title, "message": message}
        body: dict[str, Any] = {"success": False, "message": message, "error": _customer_code(code)}
        if field:
            body["details"] = [_customer_detail(message, _loc(field))]
        body.update(extra or {})  # e.g. the reason of a refused lock command
        return body

    def validation_body(self, errors: list[dict[str, Any]]) -> dict[str, Any]:
        if self is ErrorStyle.DETAIL:
            return {"detail": errors}
        first = errors[0] if errors else {"msg": "Invalid request", "loc": []}
        param = ".".join(str(p) for p in first["loc"][1:]) or None
        message = f"{param}: {first['msg']}" if param else first["msg"]
        if self is ErrorStyle.MOBIVISOR:
            return {"detail": {"error": "Validation Error", "message": message, "errors": errors}}
        if self is ErrorStyle.MOBILE:
            return _mobile_validation_body(errors, message)
        # express-validator's shape: one item per failing field (its first error), never the submitted value.
        details: dict[tuple[Any, ...], dict[str, Any]] = {}
        for e in errors:
            details.setdefault(tuple(e["loc"][:2]), _customer_detail(e["msg"], e["loc"]))
        return {
            "success": False,
            "message": "Validation failed",
            "error": "VALIDATION_ERROR",
            "details": [*details.values()],
        }

    @property
    def error_component(self) -> str:
        """The name of this family's error body in the OpenAPI document (one name per family, shared by its
        route groups: the merged document has one schema per name)."""
        return {"detail": "HTTPError", "mobivisor": "MobivisorError", "mobile": "MobileError"}.get(
            self.value, "CustomerError"
        )

    def error_content(self) -> dict[str, Any]:
        """An error answer's content in the OpenAPI document: this family's named error body."""
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{self.error_component}"}}}

    def error_schema(self) -> dict[str, Any]:
        """The JSON Schema of this family's error bodies (the OpenAPI document's error responses)."""
        text = {"type": "string"}
        if self is ErrorStyle.DETAIL:
            item = {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {"loc": {"type": "array", "items": {}}, "msg": text, "type": text, "ctx": {}},
            }
            detail: dict[str, Any] = {"anyOf": [text, {"type": "array", "items": item}]}
            return {"type": "object", "required": ["detail"], "properties": {"detail": detail}}
        if self is ErrorStyle.MOBIVISOR:
            inner = {"type": "object", "required": ["error", "message"], "properties": {"error": text, "message": text}}
            return {"type": "object", "required": ["detail"], "properties": {"detail": inner}}
        if self is ErrorStyle.MOBILE:
            return {"type": "object", "required": ["error", "message"], "properties": {"error": text, "message": text}}
        detail_item = {"type": "object", "required": ["msg"], "properties": {"msg": text}}
        return {
            "type": "object",
            "required": ["success", "message", "error"],
            "properties": {
                "success": {"type": "boolean", "const": False},
                "message": text,
                "error": text,
                "details": {"type": "array", "items": detail_item},
            },
        }

    def forbidden(self, need: str) -> Forbidden:
        """The caller lacks what a route needs (a permission, or the admin role), in this family's words."""
        if need != ADMIN:
            return Forbidden(f"This needs the {need} permission")
        if self is ErrorStyle.MOBILE:
            exc = Forbidden("This route needs the admin role")
            exc.title = "Access denied"  # the mobile contract's 403 title
            return exc
        return Forbidden("Admin access required" if self is ErrorStyle.CUSTOMER else "This needs the admin role")

    def unauthenticated_body(self, exc: Unauthorized) -> dict[str, Any]:
        """A missing, invalid or expired token. The mobile contract gives this one body for all of them."""
        if self is ErrorStyle.MOBILE:
            return {"error": "Invalid or expired token", "message": "Please login again"}
        return self.body(401, exc.code, exc.title, exc.message)


def _mobile_validation_body(errors: list[dict[str, Any]], first_message: str) -> dict[str, Any]:
    """The mobile contract's 400: ``Missing required fields`` naming every missing field (``phone_number and
    password are required``), else the first invalid field."""
    missing = [str(e["loc"][-1]) for e in errors if e.get("type") == "missing" and len(e["loc"]) > 1]
    if missing and len(missing) == len(errors):
        names = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        return {
            "error": "Missing required fields",
            "message": f"{names} {'is' if len(missing) == 1 else 'are'} required",
        }
    return {"error": "Invalid request", "message": first_message}


# The customer-device family's error codes are upper case (the sample's); a few differ from ours by name.
_CUSTOMER_CODES = {"too_many_requests": "RATE_LIMIT_EXCEEDED"}
# express-validator names where a field came from: body, params (the path), query.
_CUSTOMER_LOCATIONS = {"path": "params"}


def _customer_code(code: str) -> str:
    return _CUSTOMER_CODES.get(code, code.upper())


def _customer_detail(message: str, loc: list[Any]) -> dict[str, Any]:
    where = str(loc[0]) if loc else "body"
    param = ".".join(str(p) for p in loc[1:])
    return {"msg": message, "param": param, "path": param, "location": _CUSTOMER_LOCATIONS.get(where, where)}


def _loc(field: str) -> list[str | int]:
    """``name`` → body.name; ``query:name`` → query.name; dotted names are nested (``meta.location``,
    ``items.3.id``, list indexes as integers, as pydantic reports them); ``body:`` → the whole body."""
    where, sep, name = field.partition(":")
    where, name = (where, name) if sep else ("body", field)
    return [where, *(int(p) if p.isdigit() else p for p in name.split(".") if p)]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers
    )


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI-like error items, without echoing the input (it may hold a password)."""
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if loc and loc[0] == "body" and len(loc) > 1 and isinstance(loc[1], str) and loc[1] in ("payload", "body"):
            loc = [loc[0], *loc[2:]]  # drop the handler's parameter name from body locations
        msg = err.get("msg") or _DEFAULT_MESSAGES.get(err.get("type", ""), "Invalid value")
        out.append({"loc": loc, "msg": msg, "type": err.get("type", "value_error")})
    return out


_DEFAULT_MESSAGES = {
    "missing": "Field required",
    "json_invalid": "Request body is not valid JSON",
    "model_attributes_type": "Input should be a valid object",
}


class FleetgateResolver(APIGatewayHttpResolver):
    """A resolver that checks, in this order and before anything parses the body: the token (401), the route's
    permission (403), then the body's size (413), encoding, multipart boundary and JSON nesting depth (the
    family's validation status, 422 or 400). So a caller without a token gets 401, not 422, and no body can
    make the JSON parser or the response serializer fail.

    ``authenticate``: who calls, from the request's headers (and the resolver's audiences); None for a route group
    whose routes take no bearer token. The handler passes its family's (for instance
    ``users.authentication.authenticate``, which also checks the token against its user's current record), so core
    depends on no context.
    ``public_paths``: exact paths (no parameters) that an authenticated resolver serves without a token.
    ``accept_audience``: besides device-manager tokens, accept tokens issued for this audience (see core.auth);
    ``only_audience``: accept only those (a family with accounts of its own, like mobile).
    ``permission``: what every route of an authenticated resolver needs (a permission of core.auth.PERMISSIONS,
    or core.auth.ADMIN), unless ``permissions`` names the route (``"POST /api/v1/x/<x_id>"``, as the route is
    declared) with its own; public paths need none.
    ``inspect_body``: False for a route group that reads its raw body itself (ingest: after its key check).
    A trailing slash is ignored (``/api/v1/x/`` is ``/api/v1/x``), as the contracts write some paths with one.
    """

    def __init__(
        self,
        style: ErrorStyle,
        *,
        authenticate: Authenticator | None,
        public_paths: Iterable[str] = (),
        accept_audience: str | None = None,
        only_audience: bool = False,
        permission: str | None = None,
        permissions: Mapping[str, str] | None = None,
        inspect_body: bool = True,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        super().__init__(enable_validation=True)
        self.style = style
        self.authenticate = authenticate
        self.authenticated = authenticate is not None  # the local cloud's /docs marks public route groups
        self.public_paths = frozenset(p.rstrip("/") for p in public_paths)
        self.accept_audience = accept_audience
        self.only_audience = only_audience
        self.permission = permission
        self.permissions = dict(permissions or {})
        self.inspect_body = inspect_body
        self.max_body_bytes = max_body_bytes

    @property
    def principal(self) -> Principal:
        return self.context["principal"]

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        event = _without_trailing_slash(event)
        try:
            if self.authenticate is not None and _route_path(event) not in self.public_paths:
                try:
                    principal = self.authenticate(
                        event.get("headers"), accept_audience=self.accept_audience, only_audience=self.only_audience
                    )
                except Unauthorized as exc:
                    self.clear_context()
                    return self.error_response(exc, self.style.unauthenticated_body(exc))
                self.append_context(principal=principal)
                need = self._requirement(event)
                if need and not principal.can(need):
                    raise self.style.forbidden(need)
            if self.inspect_body:
                _check_body(event, self.max_body_bytes)
        except DomainError as exc:
            self.clear_context()
            return self.error_response(exc)
        return super().resolve(event, context)

    def error_response(self, exc: DomainError, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A domain error as this family's Lambda proxy response (for errors raised before routing)."""
        status, rendered, headers = _render(self.style, exc)
        headers = {"Content-Type": "application/json", **headers}
        return {
            "statusCode": status,
            "headers": headers,
            "body": json.dumps(body or rendered),
            "isBase64Encoded": False,
        }

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        """Powertools' document, with the error answers this resolver gives documented on every operation (in
        the family's envelope): 401 without a valid token, 403 for a route's requirement, 404 for a path with
        ids, 413/415 for a body, and the family's validation status (422, or 400) in place of Powertools' own."""
        # Imported here: the OpenAPI models cost about 270 ms of import, and only the docs build the document.
        from aws_lambda_powertools.event_handler.openapi.models import OpenAPI, PathItem

        document = super().get_openapi_schema(**kwargs).model_dump(by_alias=True, exclude_none=True)
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    self._document_errors(method.upper(), path, operation)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas[self.style.error_component] = self.style.error_schema()
        paths = {path: PathItem.model_validate(item) for path, item in document.pop("paths", {}).items()}
        return OpenAPI.model_validate({**document, "paths": paths})

    def _document_errors(self, method: str, path: str, operation: dict[str, Any]) -> None:
        responses = operation.setdefault("responses", {})
        for status in [k for k in responses if not isinstance(k, str)]:  # Powertools keys some by int
            responses[str(status)] = responses.pop(status)
        content = self.style.error_content()

        def add(status: int, description: str) -> None:
            current = responses.get(str(status)) or {}
            responses[str(status)] = {"description": current.get("description", description), "content": content}

        public = not self.authenticated or path.rstrip("/") in self.public_paths
        declared = re.sub(r"\{(\w+)\}", r"<\1>", path)
        need = None if public else self.permissions.get(f"{method} {declared}", self.permission)
        if "204" in responses:  # No Content: no body, whatever the handler's return annotation says
            responses["204"] = {"description": responses["204"].get("description", "No Content")}
        operation["description"] = f"{operation.get('description') or ''}\n\n{_who(operation, public, need)}".strip()
        if not public:
            add(401, "Missing, invalid, expired or revoked token")
            if need:
                add(403, "The caller lacks the permission this route needs")
        if "{" in path:
            add(404, "Not found (or another user's)")
        if operation.get("requestBody"):
            add(413, "The body is too large")
            add(415, "The body's content type is not one this route takes")
            if method in ("POST", "PUT") and "application/json" in operation["requestBody"].get("content", {}):
                add(409, "Conflicts with what exists (a name, EUI, email or username taken, ...)")
        responses.pop("422", None)
        add(self.style.validation_status, "Invalid request")

    def route(  # type: ignore[override]
        self,
        rule: str,
        method: Any,
        cors: bool | None = None,
        compress: bool = False,
        cache_control: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        responses: dict[int, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Error statuses a route declares without a body get the family's error body (Powertools would give
        them the route's success model), with the answer's ``example`` when it gives one; a route that declares only
        errors still documents its 200. Without a summary or description, the handler's docstring (or name) gives
        them."""
        error = self.style.error_content()
        declared = {
            status: ({**answer, "content": error} if status >= 400 and "content" not in answer else answer)
            for status, answer in (responses or {}).items()
        }
        if declared and not any(200 <= status < 300 for status in declared):
            declared[200] = {"description": "Successful Response"}  # Powertools gives it the route's return model
        for status, answer in (responses or {}).items():  # an error's "example" (a spec's body) goes with its schema
            if "example" in answer and status in declared:
                media = declared[status]["content"]["application/json"]
                declared[status] = {
                    **{k: v for k, v in declared[status].items() if k != "example"},
                    "content": {"application/json": {**media, "example": answer["example"]}},
                }
        register = super().route

        def decorator(func: Any) -> Any:
            # Without a summary, Powertools repeats the path ("GET /api/v1/devices"): the handler's docstring says more.
            line, rest = _summary_and_description(func)
            return register(
                rule,
                method,
                cors,
                compress,
                cache_control,
                summary or line,
                description or rest,
                declared or None,
                *args,
                **kwargs,
            )(func)

        return decorator

    def _requirement(self, event: Mapping[str, Any]) -> str | None:
        if not self.permissions:
            return self.permission
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "").upper()
        path = _route_path(event)
        for route in self._static_routes + self._dynamic_routes:  # Powertools' own matching order
            if route.method == method and route.rule.match(path):
                return self.permissions.get(f"{method} {route.path}", self.permission)
        return self.permission


def _who(operation: Mapping[str, Any], public: bool, need: str | None) -> str:
    """Who may call an operation, in a sentence of its description."""
    places = (
        (p.get("name", "").lower(), getattr(p.get("in"), "value", p.get("in"))) for p in operation.get("parameters", [])
    )
    headers = {name for name, place in places if place == "header"}
    if "x-api-key" in headers:
        return "Authenticated by an ingest key in the X-API-Key header."
    if public:
        return "No token needed."
    if need == ADMIN:
        return "Needs a bearer token of an account with the admin role."
    if need:
        return f"Needs a bearer token with the `{need}` permission (an admin holds every permission)."
    return "Needs a bearer token."


def _summary_and_description(func: Any) -> tuple[str, str | None]:
    """An operation's one-line summary and short description, from its handler: the docstring's first sentence
    and the rest of it; without a docstring, the handler's name in words (``list_devices`` → "List devices")."""
    doc = " ".join((func.__doc__ or "").split())
    if not doc:
        return func.__name__.strip("_").replace("_", " ").capitalize(), None
    first, _, rest = doc.partition(". ")
    first = first.rstrip(".")
    if len(first) > 80 and ": " in first:  # "Upload the points (...): a JSON list or CSV ..." → the part before ":"
        first, _, more = first.partition(": ")
        rest = f"{more[:1].upper()}{more[1:]}. {rest}".strip()
    return first, rest.strip() or None


def _render(style: ErrorStyle, exc: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A domain error's status, body and headers in ``style``. Invalid input found past request validation (a
    forged cursor, ...) answers like request validation does: 400 in the families whose contracts say so."""
    status = style.validation_status if isinstance(exc, InvalidInput) else exc.status
    body = style.body(status, exc.code, exc.title, exc.message, field=exc.field, extra=exc.extra)
    return status, body, _error_headers(exc)


def _error_headers(exc: DomainError) -> dict[str, str]:
    # Only our own 401s challenge the caller (Bearer, or the scheme the error names, e.g. an ingest API key);
    # an upstream refusing *our* credentials is not about theirs.
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": getattr(exc, "challenge", "Bearer")}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return {}


_JSON_MEDIA = ("", "application/json")


def _check_body(event: Mapping[str, Any], max_bytes: int) -> None:
    """Size, UTF-8, multipart boundary and JSON depth of a request body, before anything parses it."""
    body = event.get("body")
    if not body:
        return
    headers = event.get("headers") or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "") or ""
    media = content_type.split(";", 1)[0].strip().lower()
    raw: bytes | str = body
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body)
        except (ValueError, TypeError):
            raise InvalidInput("The request body is not valid base64", field="body:") from None
    if len(raw) > max_bytes if isinstance(raw, bytes) else len(raw.encode()) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes // 1024} KiB")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The request body is not valid UTF-8", field="body:") from None
    if media == "multipart/form-data" and "boundary=" not in content_type.lower():
        raise InvalidInput("A multipart/form-data body needs a boundary parameter in its Content-Type", field="body:")
    if (media in _JSON_MEDIA or media.endswith("+json")) and json_too_deep(raw):
        raise InvalidInput(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels", field="body:")


def _route_path(event: Mapping[str, Any]) -> str:
    """The path the resolver routes on, without a named stage's prefix (``/dev/api/...`` → ``/api/...``)."""
    context = event.get("requestContext") or {}
    path = (context.get("http") or {}).get("path") or event.get("rawPath") or ""
    stage = context.get("stage")
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return path


def _without_trailing_slash(event: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = event.get("rawPath") or ""
    if len(raw) <= 1 or not raw.endswith("/"):
        return event
    out = dict(event)
    out["rawPath"] = raw.rstrip("/") or "/"
    context = dict(out.get("requestContext") or {})
    http = dict(context.get("http") or {})
    if http.get("path"):
        http["path"] = http["path"].rstrip("/") or "/"
    context["http"] = http
    out["requestContext"] = context
    return out


def make_resolver(
    style: ErrorStyle,
    *,
    authenticate: Authenticator,
    public_paths: Iterable[str] = (),
    accept_audience: str | None = None,
    only_audience: bool = False,
    permission: str | None = None,
    permissions: Mapping[str, str] | None = None,
) -> FleetgateResolver:
    """The resolver of a route group whose routes need a bearer token (except ``public_paths``), checked by
    ``authenticate``."""
    return _with_error_handlers(
        FleetgateResolver(
            style,
            authenticate=authenticate,
            public_paths=public_paths,
            accept_audience=accept_audience,
            only_audience=only_audience,
            permission=permission,
            permissions=permissions,
        )
    )


def make_public_resolver(style: ErrorStyle, *, inspect_body: bool = True) -> FleetgateResolver:
    """The resolver of a route group whose routes take no bearer token (log in, health, ingest with its API key,
    the phones' device routes). ``inspect_body=False``: the route group reads its raw body itself (ingest, after
    its key check)."""
    return _with_error_handlers(FleetgateResolver(style, authenticate=None, inspect_body=inspect_body))


def _with_error_handlers(app: FleetgateResolver) -> FleetgateResolver:
    style = app.style

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        status, body, headers = _render(style, exc)
        return _json(status, body, headers or None)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response:
        message = "Unsupported content type: send application/json"
        return _json(415, style.body(415, "unsupported_media_type", "Unsupported Media Type", message))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        return _json(style.validation_status, style.validation_body(_clean_validation_errors(exc)))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        return _json(404, style.body(404, "not_found", "Not Found", "Not Found"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return _json(500, style.body(500, "internal_error", "Internal Server Error", "Internal server error"))

    return app
