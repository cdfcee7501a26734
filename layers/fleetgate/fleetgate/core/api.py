"""The resolver factory: one Powertools HTTP API resolver per function, in its API family's error style.

Each contract family has its own error envelope; :class:`ErrorStyle` renders
domain errors, request-validation failures, unknown routes and unexpected
exceptions in that envelope, so a handler module never formats an error itself.
Unexpected exceptions are logged with their traceback and answered with a
generic 500 that carries no internals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.auth import Principal, principal_from_headers
from fleetgate.core.errors import DomainError, InvalidInput, TooManyRequests, Unauthorized
from fleetgate.core.observability import logger
from fleetgate.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

# Query parameters every list route takes.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT})")]
Cursor = Annotated[str | None, Query(max_length=4096, description="next_cursor of the previous page")]


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
    """A resolver that authenticates before validating, so a caller without a token gets 401, not 422.

    ``public_paths``: exact paths (no parameters) that an authenticated resolver serves without a token.
    ``accept_audience``: besides device-manager tokens, accept tokens issued for this audience (see core.auth);
    ``only_audience``: accept only those (a family with its own tokens, like mobile).
    A trailing slash is ignored (``/api/v1/x/`` is ``/api/v1/x``), as the contracts write some paths with one.
    """

    def __init__(
        self,
        style: ErrorStyle,
        *,
        authenticated: bool,
        public_paths: Iterable[str] = (),
        accept_audience: str | None = None,
        only_audience: bool = False,
    ):
        super().__init__(enable_validation=True)
        self.style = style
        self.authenticated = authenticated
        self.public_paths = frozenset(p.rstrip("/") for p in public_paths)
        self.accept_audience = accept_audience
        self.only_audience = only_audience

    @property
    def principal(self) -> Principal:
        return self.context["principal"]

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Powertools documents a 422 for invalid requests; a family that answers 400 (mobile, customer) documents
        its own 400 on each route instead."""
        schema = super().get_openapi_schema(*args, **kwargs)
        if self.style.validation_status != 422:
            for item in (schema.paths or {}).values():
                for operation in (item.get, item.put, item.post, item.delete, item.patch):
                    if operation is not None and operation.responses:
                        operation.responses.pop(422, None)
                        operation.responses.pop("422", None)  # type: ignore[call-overload]
        return schema

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        event = _without_trailing_slash(event)
        if self.authenticated and _route_path(event) not in self.public_paths:
            try:
                self.append_context(
                    principal=principal_from_headers(
                        event.get("headers"), accept_audience=self.accept_audience, only_audience=self.only_audience
                    )
                )
            except Unauthorized as exc:
                self.clear_context()
                body = self.style.unauthenticated_body(exc)
                return {
                    "statusCode": 401,
                    "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
                    "body": json.dumps(body),
                    "isBase64Encoded": False,
                }
        return super().resolve(event, context)


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
    authenticated: bool = True,
    public_paths: Iterable[str] = (),
    accept_audience: str | None = None,
    only_audience: bool = False,
) -> FleetgateResolver:
    app = FleetgateResolver(
        style,
        authenticated=authenticated,
        public_paths=public_paths,
        accept_audience=accept_audience,
        only_audience=only_audience,
    )

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        # Only our own 401s challenge the caller (Bearer, or the scheme the error names, e.g. an ingest API key);
        # an upstream refusing *our* credentials is not about theirs.
        headers = {"WWW-Authenticate": getattr(exc, "challenge", "Bearer")} if isinstance(exc, Unauthorized) else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        # Invalid input found past request validation (a forged cursor, ...) answers like request validation does:
        # 400 in the families whose contracts say so.
        status = style.validation_status if isinstance(exc, InvalidInput) else exc.status
        return _json(
            status,
            style.body(status, exc.code, exc.title, exc.message, field=exc.field, extra=exc.extra),
            headers,
        )

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
