"""The flows context's tables, FLOWS_TABLE and FLOW_TRIGGERS_TABLE (see :mod:`.repository` for their keys): their
PynamoDB models, and the reads that need none of the context's pydantic models (the trigger index's Query, a
flow's owner). Apart from the repository, which builds :class:`~fleetgate.flows.schemas.Flow` models and writes
both tables in one transaction, so that :mod:`.triggers` and :mod:`.owners` read them without the flow definition
schemas. Private to the context, like the repository."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import BooleanAttribute, JSONAttribute, ListAttribute, UnicodeAttribute

from fleetgate.core.repository import BaseModel, OwnedItem, get_item, meta, owned_model
from fleetgate.core.settings import cached, table_name
from fleetgate.flows.records import FlowOwner, TriggerMatch


class FlowItem(OwnedItem):
    class Meta:
        abstract = True

    enabled = BooleanAttribute(default=True)
    nodes = JSONAttribute(default=list)
    edges = JSONAttribute(default=list)


class TriggerItem(BaseModel):
    class Meta:
        abstract = True

    trigger = UnicodeAttribute(hash_key=True)
    flow_id = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    node_ids = ListAttribute(of=UnicodeAttribute, default=list)


@cached
def flows() -> type[FlowItem]:
    return owned_model(FlowItem, "FlowModel", table_name("FLOWS_TABLE"))


@cached
def triggers() -> type[TriggerItem]:
    return type("FlowTriggerModel", (TriggerItem,), {"Meta": meta(table_name("FLOW_TRIGGERS_TABLE"))})


def trigger_key(kind: str, ref_id: str) -> str:
    """The trigger index's key of a device or a label."""
    return f"{kind}#{ref_id}"


def flows_for_triggers(keys: Iterable[str]) -> list[TriggerMatch]:
    """The enabled flows a set of trigger keys starts: one Query per key, one entry per (trigger, flow)."""
    Triggers = triggers()
    return [
        TriggerMatch(flow_id=item.flow_id, owner_id=item.owner_id, trigger=key, node_ids=list(item.node_ids or []))
        for key in dict.fromkeys(keys)
        for item in Triggers.query(key)
    ]


def flow_owner(flow_id: str) -> FlowOwner | None:
    """A flow's id and owner (one GetItem), or None when there is no such flow."""
    item = get_item(flows(), flow_id)
    return None if item is None else FlowOwner(id=item.id, owner_id=item.owner_id)
