"""The stored user: what the users repository reads and writes, and the token check of every request works on.

Apart from the API's models (``users.schemas``), so the token check (``users.authentication``) loads this record
only, not the models of registration, login and admins' user management. A plain frozen dataclass, not a pydantic
model: it is read from our own table (nothing to validate), and a pydantic model's validator would be built on the
first request of every authenticated function (about 4 ms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fleetgate.core.auth import Role


@dataclass(frozen=True, kw_only=True)
class User:
    """A stored user, credentials included. Never returned by the API (see ``users.schemas.UserOut``)."""

    id: str
    email: str
    username: str
    role: Role
    is_active: bool = True
    permissions: list[str] = field(default_factory=list)
    token_version: int = 0
    password_hash: str
    created_at: str
    updated_at: str

    def fields(self) -> dict[str, Any]:
        """Every field by name (credentials included: for the repository, never for an answer)."""
        return asdict(self)
