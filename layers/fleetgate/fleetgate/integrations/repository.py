"""Integrations in DynamoDB (INTEGRATIONS_TABLE): by id (key), a user's newest first (GSI ``by_owner``),
everyone's (GSI ``by_kind`` + BatchGetItem). The config, secrets included, is one JSON attribute (encrypted at
rest by DynamoDB); the service masks secrets on the way out."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, UpdateError

from fleetgate.core.errors import NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    OwnedItem,
    batch_get,
    get_item,
    is_conditional_failure,
    list_owned,
    owned_fields,
    owned_model,
)
from fleetgate.core.settings import cached, table_name


class IntegrationItem(OwnedItem):
    class Meta:
        abstract = True

    type = UnicodeAttribute()
    config = JSONAttribute(default=dict)


@cached
def _integrations() -> type[IntegrationItem]:
    return owned_model(IntegrationItem, "IntegrationModel", table_name("INTEGRATIONS_TABLE"))


def _plain(item: IntegrationItem) -> dict[str, Any]:
    return owned_fields(item)


def create(record: dict[str, Any]) -> None:
    Integrations = _integrations()
    Integrations(kind="integration", created_key=f"{record['created_at']}#{record['id']}", **record).save(
        condition=Integrations.id.does_not_exist()
    )


def get(integration_id: str) -> dict[str, Any] | None:
    item = get_item(_integrations(), integration_id)
    return None if item is None else _plain(item)


def get_many(ids: list[str]) -> list[dict[str, Any]]:
    return [_plain(i) for i in batch_get(_integrations(), list(dict.fromkeys(ids)))]


def update(integration_id: str, changes: dict[str, Any], updated_at: str) -> None:
    Integrations = _integrations()
    actions = [getattr(Integrations, k).set(v) for k, v in changes.items()] + [Integrations.updated_at.set(updated_at)]
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


def list_integrations(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
    return list_owned(_integrations(), "integration", _plain, owner_id, limit=limit, cursor=cursor)


def integration_model() -> type:
    """The model class, for other contexts' multi-table reads (flow validation)."""
    return _integrations()
