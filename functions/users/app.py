"""User management (admins only): list, create, inspect, change role / permissions / active flag, delete."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.auth import ADMIN
from fleetgate.core.observability import http_handler
from fleetgate.users import service
from fleetgate.users.authentication import authenticate
from fleetgate.users.schemas import UserCreate, UserList, UserOut, UserUpdate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate, permission=ADMIN)


@app.get("/api/v1/users")
def list_users(limit: Limit = 50, cursor: Cursor = None) -> UserList:
    page = service.list_users(app.principal, limit=limit, cursor=cursor)
    return UserList(items=page.items, next_cursor=page.next_cursor)


@app.post("/api/v1/users", responses={201: {"description": "User created"}})
def create_user(payload: UserCreate) -> Response[UserOut]:
    return Response(201, content_types.APPLICATION_JSON, service.create_user(app.principal, payload))


@app.get("/api/v1/users/<user_id>")
def get_user(user_id: str) -> UserOut:
    return service.get_user(app.principal, user_id)


@app.put("/api/v1/users/<user_id>")
def update_user(user_id: str, payload: UserUpdate) -> UserOut:
    return service.update_user(app.principal, user_id, payload)


@app.delete(
    "/api/v1/users/<user_id>",
    responses={
        204: {"description": "User deleted"},
        409: {
            "description": "An admin cannot delete their own account",
            "example": {"detail": "You cannot delete your own account"},
        },
    },
)
def delete_user(user_id: str) -> Response[None]:
    service.delete_user(app.principal, user_id)
    return Response(204)


lambda_handler = http_handler(app.resolve)
