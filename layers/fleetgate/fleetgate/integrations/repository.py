"""Integrations in DynamoDB (INTEGRATIONS_TABLE): by id (key), a user's newest first (GSI ``by_owner``),
everyone's (GSI ``by_kind`` + BatchGetItem). The config, secrets included, is one JSON attribute (encrypted at
rest by DynamoDB); the service masks secrets on the way out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pynamodb.exceptions import DeleteError, UpdateError

from fleetgate.core.errors import NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    Lookup,
    get_item,
    is_conditional_failure,
    list_owned,
    owned_by,
    owned_fields,
)
from fleetgate.integrations.schemas import IntegrationRecord
from fleetgate.integrations.tables import IntegrationItem
from fleetgate.integrations.tables import integrations as _integrations


def _record(item: IntegrationItem) -> IntegrationRecord:
    return IntegrationRecord.model_validate(owned_fields(item))


def _stored(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def create(record: IntegrationRecord) -> None:
    Integrations = _integrations()
    Integrations(kind="integration", created_key=f"{record.created_at}#{record.id}", **record.model_dump()).save(
        condition=Integrations.id.does_not_exist()
    )


def get(integration_id: str) -> IntegrationRecord | None:
    item = get_item(_integrations(), integration_id)
    return None if item is None else _record(item)


def update(integration_id: str, changes: dict[str, Any], updated_at: str) -> None:
    """Set the changed fields (``config`` as its validated model)."""
    Integrations = _integrations()
    actions = [getattr(Integrations, k).set(_stored(v)) for k, v in changes.items()]
    actions.append(Integrations.updated_at.set(updated_at))
    try:
        Integrations(id=integration_id).update(actions=actions, condition=Integrations.id.exists())
    except UpdateError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Integration not found") from None
        raise


def delete(integration_id: str) -> None:
    Integrations = _integrations()
    try:
        Integrations(id=integration_id).delete(condition=Integrations.id.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            raise NotFound("Integration not found") from None
        raise


def list_integrations(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[IntegrationRecord]:
    return list_owned(_integrations(), "integration", _record, owner_id, limit=limit, cursor=cursor)


def records_of(integration_ids: Iterable[str], owner_id: str) -> Lookup[dict[str, IntegrationRecord]]:
    return owned_by(_integrations(), integration_ids, owner_id, _record)
