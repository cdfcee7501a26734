# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from fleetgate.core.auth import PERMISSIONS, Role
from fleetgate.core.schemas import Input, Schema
from fleetgate.users.records import User

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("value is not a valid email address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


Email = Annotated[str, AfterValidator(_email)]
Username = Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
# SecretStr: a password never shows up in a repr, a log line or a debug dump of route arguments.
Password = Annotated[SecretStr, Field(min_length=8, max_length=128)]
Permission = Literal["mobivisor:read", "mobivisor:write", "microshare:read", "microshare:write"]
assert set(Permission.__args__) == set(PERMISSIONS)  # type: ignore[attr-defined]
Permissions = Annotated[
    list[Permission],
    Field(max_length=len(PERMISSIONS), description="Granted permissions (an admin holds every one anyway)"),
]


class RegisterRequest(Input):
    email: Email
    username: Username
    password: Password


class UserCreate(RegisterRequest):
    """An admin creating an account (works whether or not registration is open)."""

    role: Role = "user"
    permissions: Permissions = Field(default_factory=list)


class UserUpdate(Input):
    """What an admin changes; absent fields keep their value. Deactivating revokes the user's tokens."""

    role: Role | None = None
    permissions: Permissions | None = None
    is_active: bool | None = None


class PasswordChange(Input):
    current_password: Password
    new_password: Password


class UserOut(Schema):
    id: str
    email: str
    username: str
    role: Role
    is_active: bool
    permissions: list[Permission] = Field(description="Granted permissions; an admin holds every one anyway")
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, user: User) -> "UserOut":
        shown = user.fields()
        del shown["password_hash"], shown["token_version"]
        return cls(**shown)


class UserList(Schema):
    items: list[UserOut]
    next_cursor: str | None = None


class TokenOut(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
