"""Auth routes (device-manager Authentication): register and log in."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Form
from pydantic import SecretStr

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.observability import http_handler
from fleetgate.users import service
from fleetgate.users.schemas import RegisterRequest, TokenOut, UserOut

app = make_public_resolver(ErrorStyle.DETAIL)


@app.post("/api/v1/auth/register", responses={201: {"description": "User created"}})
def register(payload: RegisterRequest) -> Response[UserOut]:
    return Response(201, content_types.APPLICATION_JSON, service.register(payload))


@app.post("/api/v1/auth/login")
def login(
    username: Annotated[str, Form(min_length=1, max_length=254)],
    password: Annotated[SecretStr, Form(min_length=1, max_length=128)],
) -> TokenOut:
    return service.login(username, password.get_secret_value())


lambda_handler = http_handler(app.resolve)
