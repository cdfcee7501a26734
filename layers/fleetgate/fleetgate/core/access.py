"""Who sees what, the same rule everywhere: a user sees and changes only what they own; an admin sees and
changes everything. Someone else's resource is reported as 404, exactly like a missing one."""

from __future__ import annotations

from typing import Protocol, TypeVar

from fleetgate.core.auth import Principal
from fleetgate.core.errors import NotFound
from fleetgate.core.ids import new_id, now_iso


class Owned(Protocol):
    owner_id: str


R = TypeVar("R", bound=Owned)


def visible(who: Principal, resource: R | None, what: str) -> R:
    if resource is None or not (who.is_admin or resource.owner_id == who.user_id):
        raise NotFound(f"{what} not found")
    return resource


def owner_scope(who: Principal) -> str | None:
    """The owner to filter lists on: the caller, or nobody for an admin."""
    return None if who.is_admin else who.user_id


def new_resource(who: Principal) -> dict[str, str]:
    """What every new resource of a caller starts with: a fresh id, its owner (the caller), created/updated now."""
    now = now_iso()
    return {"id": new_id(), "owner_id": who.user_id, "created_at": now, "updated_at": now}
