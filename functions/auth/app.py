"""Auth routes (device-manager Authentication): register, log in, change one's password."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Form
from pydantic import SecretStr

from fleetgate.core.api import ErrorStyle, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.users import service
from fleetgate.users.authentication import authenticate
from fleetgate.users.schemas import PasswordChange, RegisterRequest, TokenOut, UserOut

app = make_resolver(
    ErrorStyle.DETAIL,
    authenticate=authenticate,
    public_paths=("/api/v1/auth/register", "/api/v1/auth/login"),
)


def _source_ip() -> str | None:
    return app.current_event.request_context.http.source_ip


@app.post(
    "/api/v1/auth/register",
    responses={201: {"description": "User created"}, 403: {"description": "Registration is closed"}},
)
def register(payload: RegisterRequest) -> Response[UserOut]:
    return Response(201, content_types.APPLICATION_JSON, service.register(payload))


@app.post(
    "/api/v1/auth/login",
    responses={
        200: {"description": "A bearer token"},
        401: {"description": "Wrong username or password, or an inactive user"},
        429: {"description": "Too many failed logins (see Retry-After)"},
    },
)
def login(
    username: Annotated[str, Form(min_length=1, max_length=254)],
    password: Annotated[SecretStr, Form(min_length=1, max_length=128)],
) -> TokenOut:
    return service.login(username, password.get_secret_value(), _source_ip())


@app.post(
    "/api/v1/auth/password",
    responses={
        200: {"description": "A new token (every earlier one is revoked)"},
        429: {"description": "Too many failed attempts (see Retry-After)"},
    },
)
def change_password(payload: PasswordChange) -> TokenOut:
    """Change the caller's password: every token issued before stops working; the answer is a new token."""
    return service.change_password(app.principal, payload, _source_ip())


lambda_handler = http_handler(app.resolve)
