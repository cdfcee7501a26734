"""The functions context's tables: its PynamoDB models, apart from the repository so that :mod:`.owners` reads
them without the context's pydantic models. Private to the context, like the repository."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from fleetgate.core.repository import BaseModel, OwnedItem, meta, owned_model
from fleetgate.core.settings import cached, table_name


class FunctionItem(OwnedItem):
    class Meta:
        abstract = True

    code = UnicodeAttribute()
    timeout_ms = NumberAttribute(default=100)
    entry_point = UnicodeAttribute()
    version = NumberAttribute()


class VersionItem(BaseModel):
    class Meta:
        abstract = True

    function_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    code = UnicodeAttribute()
    timeout_ms = NumberAttribute()
    entry_point = UnicodeAttribute()
    created_at = UnicodeAttribute()


@cached
def functions() -> type[FunctionItem]:
    return owned_model(FunctionItem, "FunctionModel", table_name("FUNCTIONS_TABLE"))


@cached
def versions() -> type[VersionItem]:
    return type("FunctionVersionModel", (VersionItem,), {"Meta": meta(table_name("FUNCTION_VERSIONS_TABLE"))})
