"""Flows and their trigger index in DynamoDB.

- a flow by id: FLOWS_TABLE key; a user's, newest first: GSI ``by_owner``; everyone's: GSI ``by_kind``
  (KEYS_ONLY + BatchGetItem), as for devices.
- Trigger index, FLOW_TRIGGERS_TABLE: one item per (trigger, enabled flow): hash key ``trigger`` =
  "device#<device id>" or "label#<label id>", range key ``flow_id``, with the flow's ``owner_id`` and the
  trigger node ids. Only ENABLED flows have items, so ingest finds the flows an uplink starts with one Query
  per trigger key (the device, and each of its labels) and no filter: :func:`.tables.flows_for_triggers`. The items
  are written in the same transaction as the flow on create, update (graph change, enable, disable) and
  delete; the flow update is conditioned on the ``updated_at`` it was read with, so two concurrent saves
  cannot leave the index out of step with the graph.

The models of both tables, and the reads that need no :class:`Flow` (the trigger index's Query, a flow's owner),
are in :mod:`.tables`; this module builds and writes flows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fleetgate.core.errors import Conflict, NotFound
from fleetgate.core.pagination import Page
from fleetgate.core.repository import Lookup, Transaction, get_item, list_owned, owned_fields
from fleetgate.flows import tables
from fleetgate.flows.schemas import Flow


def _flow(item: tables.FlowItem) -> Flow:
    return Flow(**owned_fields(item))


def trigger_keys(flow: Flow) -> dict[str, list[str]]:
    """The index entries an enabled flow needs: trigger key → its trigger node ids."""
    keys: dict[str, list[str]] = {}
    if not flow.enabled:
        return keys
    for node in flow.nodes:
        if node["type"] in ("device", "label"):
            keys.setdefault(tables.trigger_key(node["type"], node[f"{node['type']}_id"]), []).append(node["id"])
    return keys


def _index_ops(
    tx: Transaction, flow_id: str, owner_id: str, before: dict[str, list[str]], after: dict[str, list[str]]
) -> None:
    Triggers = tables.triggers()
    for key in before.keys() - after.keys():
        tx.delete(f"trigger-del:{key}", Triggers(key, flow_id))
    for key, node_ids in after.items():
        if before.get(key) != node_ids:
            tx.save(f"trigger-put:{key}", Triggers(key, flow_id, owner_id=owner_id, node_ids=node_ids))


def create(flow: Flow) -> None:
    Flows = tables.flows()
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
    item = get_item(tables.flows(), flow_id)
    return None if item is None else _flow(item)


def update(current: Flow, changes: dict[str, Any], updated_at: str) -> Flow:
    Flows = tables.flows()
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
    Flows = tables.flows()
    tx = Transaction(Flows)
    tx.delete("flow", Flows(id=flow.id), condition=Flows.id.exists())
    _index_ops(tx, flow.id, flow.owner_id, trigger_keys(flow), {})
    if tx.run():
        raise NotFound("Flow not found")


def list_flows(owner_id: str | None, *, limit: int, cursor: str | None) -> Page[Flow]:
    return list_owned(tables.flows(), "flow", _flow, owner_id, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- for the flow engine
def definitions_lookup(flow_ids: Iterable[str]) -> Lookup[dict[str, Flow]]:
    return Lookup(tables.flows(), list(dict.fromkeys(flow_ids)), lambda found: {i.id: _flow(i) for i in found})
