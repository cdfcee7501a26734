"""The integrations context's table: its PynamoDB model, apart from the repository so that :mod:`.owners` reads
it without the context's pydantic models. Private to the context, like the repository."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from fleetgate.core.repository import OwnedItem, owned_model
from fleetgate.core.settings import cached, table_name


class IntegrationItem(OwnedItem):
    class Meta:
        abstract = True

    type = UnicodeAttribute()
    config = JSONAttribute(default=dict)


@cached
def integrations() -> type[IntegrationItem]:
    return owned_model(IntegrationItem, "IntegrationModel", table_name("INTEGRATIONS_TABLE"))
