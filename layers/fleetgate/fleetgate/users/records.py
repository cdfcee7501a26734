"""The stored user: what the users repository reads and writes, and the token check of every request works on.

Apart from the API's models (``users.schemas``), so the token check (``users.authentication``) builds this one
model only, not the models of registration, login and admins' user management.
"""

from __future__ import annotations

from pydantic import Field

from fleetgate.core.auth import Role
from fleetgate.core.schemas import Schema


class User(Schema):
    """A stored user, credentials included. Never returned by the API (see ``users.schemas.UserOut``)."""

    id: str
    email: str
    username: str
    role: Role
    is_active: bool = True
    permissions: list[str] = Field(default_factory=list)
    token_version: int = 0
    password_hash: str
    created_at: str
    updated_at: str
