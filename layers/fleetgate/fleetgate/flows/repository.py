"""Flows and their trigger index in DynamoDB.

- a flow by id: FLOWS_TABLE key; a user's, newest first: GSI ``by_owner``; everyone's: GSI ``by_kind``
  (KEYS_ONLY + BatchGetItem), as for devices.
- Trigger index, FLOW_TRIGGERS_TABLE: one item per (trigger, enabled flow): hash key ``trigger`` =
  "device#<device id>" or "label#<label id>", range key ``flow_id``, with the flow's ``owner_id`` and the
  trigger node ids. Only ENABLED flows have items, so ingest finds the flows an uplink starts with one Query
  per trigger key (the device, and each of its labels) and no filter: :func:`flows_for_triggers`. The items
  are written in the same transaction as the flow on create, update (graph change, enable, disable) and
  delete; the flow update is conditioned on the ``updated_at`` it was read with, so two concurrent saves
  cannot leave the index out of step with the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import BooleanAttribute, JSONAttribute, ListAttribute, UnicodeAttribute

from fleetgate.core.errors import Conflict, NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import (
    BaseModel,
    Lookup,
    OwnedItem,
    Transaction,
    batch_get,
    get_item,
    list_owned,
    meta,
    owned_fields,
    owned_model,
)
from fleetgate.core.settings import cached, table_name
from fleetgate.flows.schemas import Flow, TriggerMatch


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
def _flows() -> type[FlowItem]:
    return owned_model(FlowItem, "FlowModel", table_name("FLOWS_TABLE"))


@cached
def _triggers() -> type[TriggerItem]:
    return type("FlowTriggerModel", (TriggerItem,), {"Meta": meta(table_name("FLOW_TRIGGERS_TABLE"))})


def _flow(item: FlowItem) -> Flow:
    return Flow(**owned_fields(item))


def trigger_key(kind: str, ref_id: str) -> str:
    """The trigger index's key of a device or a label."""
    return f"{kind}#{ref_id}"


def trigger_keys(flow: Flow) -> dict[str, list[str]]:
    """The index entries an enabled flow needs: trigger key → its trigger node ids."""
    keys: dict[str, list[str]] = {}
    if not flow.enabled:
        return keys
    for node in flow.nodes:
        if node["type"] in ("device", "label"):
            keys.setdefault(trigger_key(node["type"], node[f"{node['type']}_id"]), []).append(node["id"])
    return keys


def _index_ops(
    tx: Transaction, flow_id: str, owner_id: str, before: dict[str, list[str]], after: dict[str, list[str]]
) -> None:
    Triggers = _triggers()
    for key in before.keys() - after.keys():
        tx.delete(f"trigger-del:{key}", Triggers(key, flow_id))
    for key, node_ids in after.items():
        if before.get(key) != node_ids:
            tx.save(f"trigger-put:{key}", Triggers(key, flow_id, owner_id=owner_id, node_ids=node_ids))


def create(flow: Flow) -> None:
    Flows = _flows()
    tx = Transaction(Flows)
    tx.save(
        "flow",
        Flows(kind="flow", created_key=f"{flow.created_at}#{flow.id}", **flow.model_dump()),
        condition=Flows.id.does_not_exist(),
    )
    _index_ops(tx, flow.id, flow.owner_id, {}, trigger_keys(flow))
    if tx.run():
        raise Conflict("Flow already exists")


def get(flow_id: str) -> Flow | None:
    item = get_item(_flows(), flow_id)
    return None if item is None else _flow(item)


def update(current: Flow, changes: dict[str, Any], updated_at: str) -> Flow:
    Flows = _flows()
    new = current.model_copy(update={**changes, "updated_at": updated_at})
    actions = [getattr(Flows, k).set(v) for k, v in changes.items()] + [Flows.updated_at.set(updated_at)]
    tx = Transaction(Flows)
    tx.update(
        "flow",
        Flows(id=current.id),
        actions=actions,
        condition=Flows.id.exists() & (Flows.updated_at == current.updated_at),
    )
    _index_ops(tx, current.id, current.owner_id, trigger_keys(current), trigger_keys(new))
    if tx.run():
        if get(current.id) is None:
            raise NotFound("Flow not found")
        raise Conflict("The flow was changed by another request; fetch it and try again")
    return new


def delete(flow: Flow) -> None:
    Flows = _flows()
    tx = Transaction(Flows)
    tx.delete("flow", Flows(id=flow.id), condition=Flows.id.exists())
    _index_ops(tx, flow.id, flow.owner_id, trigger_keys(flow), {})
    if tx.run():
        raise NotFound("Flow not found")


def list_flows(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Flow]:
    return list_owned(_flows(), "flow", _flow, owner_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- for the flow engine
def flows_for_triggers(keys: Iterable[str]) -> list[TriggerMatch]:
    """The enabled flows a set of trigger keys starts: one Query per key, one entry per (trigger, flow)."""
    Triggers = _triggers()
    return [
        TriggerMatch(flow_id=item.flow_id, owner_id=item.owner_id, trigger=key, node_ids=list(item.node_ids or []))
        for key in dict.fromkeys(keys)
        for item in Triggers.query(key)
    ]


def definitions_lookup(flow_ids: Iterable[str]) -> Lookup[dict[str, Flow]]:
    return Lookup(_flows(), list(dict.fromkeys(flow_ids)), lambda found: {i.id: _flow(i) for i in found})


def get_many(flow_ids: Iterable[str]) -> list[Flow]:
    return [_flow(i) for i in batch_get(_flows(), list(dict.fromkeys(flow_ids)))]
