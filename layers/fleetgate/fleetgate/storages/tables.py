"""The storages context's configurations table: its PynamoDB model, apart from the repository so that :mod:`.owners`
reads it without the context's pydantic models. Private to the context, like the repository."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from fleetgate.core.repository import OwnedItem, owned_model
from fleetgate.core.settings import cached, table_name


class StorageItem(OwnedItem):
    class Meta:
        abstract = True

    type = UnicodeAttribute(default="timeseries")
    retention_days = NumberAttribute()


@cached
def storages() -> type[StorageItem]:
    return owned_model(StorageItem, "StorageModel", table_name("STORAGES_TABLE"))
