"""The stored user: what the users repository reads and writes, and the token check of every request works on.

Apart from the API's models (``users.schemas``), so the token check (``users.authentication``) loads this record
only, not the models of registration, login and admins' user management. A ``typing.NamedTuple``, not a pydantic
model: it is read from our own table (nothing to validate), and a pydantic model's validator would be built on the
first request of every authenticated function (about 4 ms); nor a frozen dataclass, which costs about 1 ms more to
define at import (no postponed annotations here either: NamedTuple would compile each annotation string).
"""

from typing import Any, NamedTuple

from fleetgate.core.auth import Role
from fleetgate.core.settings import repr_without


class User(NamedTuple):
    """A stored user, credentials included. Never returned by the API (see ``users.schemas.UserOut``).

    Built by keyword only (the field order is not the stored one); changed with ``_replace``. ``permissions`` is
    required: a NamedTuple default would be one list shared by every user."""

    id: str
    email: str
    username: str
    role: Role
    permissions: list[str]
    password_hash: str
    created_at: str
    updated_at: str
    is_active: bool = True
    token_version: int = 0

    def __repr__(self) -> str:
        """Every field but the password hash, which must never reach a log or a trace."""
        return repr_without(self, "password_hash")

    def fields(self) -> dict[str, Any]:
        """Every field by name (credentials included: for the repository, never for an answer); the permissions
        a list of their own."""
        values = self._asdict()
        values["permissions"] = list(self.permissions)
        return values
