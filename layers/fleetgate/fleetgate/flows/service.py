"""Flow logic: CRUD, enable/disable (``enabled`` in an update), graph validation on every save.

A saved graph is valid when: node ids are unique; every edge joins two known nodes, is not a self-loop or a
duplicate, and does not end at a trigger; edges out of a switch carry ``branch`` "true"/"false" and no other edge
does; there is at least one trigger node (device or label) and at most :data:`MAX_TRIGGERS` distinct triggers;
there is no cycle; every referenced device, label, function (and pinned version), integration and storage exists
and belongs to the flow's owner. Any failure is a 422 naming the node.
"""

from __future__ import annotations

from typing import Any

from fleetgate.core.access import new_resource, owner_scope, visible
from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput, NotFound
from fleetgate.core.ids import now_iso
from fleetgate.core.pagination import Page
from fleetgate.core.repository import read_all
from fleetgate.core.schemas import changed, sent_fields
from fleetgate.devices import service as devices
from fleetgate.flows import repository
from fleetgate.flows.schemas import TRIGGER_TYPES, Flow, FlowCreate, FlowUpdate
from fleetgate.functions import owners as functions
from fleetgate.history import service as history
from fleetgate.history.schemas import FlowExecution
from fleetgate.integrations import owners as integrations
from fleetgate.storages import owners as storages

MAX_TRIGGERS = 40  # keeps a save's transaction (flow + index entries removed and added) under 100 items
_REF_FIELDS = {
    "device": "device_id",
    "label": "label_id",
    "function": "function_id",
    "integration": "integration_id",
    "storage": "storage_id",
}
_ORDERING = ("<", "<=", ">", ">=")


def _bad(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field)


def validate_graph(owner_id: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
    index: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node["id"] in index:
            raise _bad(f"node {node['id']!r}: duplicate node id", f"nodes.{i}.id")
        index[node["id"]] = i
        if node["type"] == "switch":
            op, value = node["operator"], node.get("value")
            if op in _ORDERING and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
                raise _bad(f"node {node['id']!r}: operator {op} needs a number or string value", f"nodes.{i}.value")
            if op == "contains" and value is None:
                raise _bad(f"node {node['id']!r}: operator contains needs a value", f"nodes.{i}.value")
    triggers = [n for n in nodes if n["type"] in TRIGGER_TYPES]
    if not triggers:
        raise _bad("a flow needs at least one trigger node (device or label)", "nodes")
    if len({(n["type"], n[_REF_FIELDS[n["type"]]]) for n in triggers}) > MAX_TRIGGERS:
        raise _bad(f"a flow can have at most {MAX_TRIGGERS} distinct trigger devices and labels", "nodes")

    seen: set[tuple[str, str, Any]] = set()
    out: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    incoming = {n["id"]: 0 for n in nodes}
    for j, edge in enumerate(edges):
        src, dst, branch = edge["source"], edge["target"], edge.get("branch")
        for end, name in ((src, "source"), (dst, "target")):
            if end not in index:
                raise _bad(f"edge {src!r} -> {dst!r}: unknown node {end!r}", f"edges.{j}.{name}")
        if src == dst:
            raise _bad(f"node {src!r}: an edge cannot connect a node to itself", f"edges.{j}")
        if nodes[index[dst]]["type"] in TRIGGER_TYPES:
            raise _bad(
                f"node {dst!r}: a trigger node ({nodes[index[dst]]['type']}) cannot have incoming edges",
                f"edges.{j}.target",
            )
        is_switch = nodes[index[src]]["type"] == "switch"
        if is_switch and branch is None:
            raise _bad(f'node {src!r}: edges out of a switch need a branch ("true" or "false")', f"edges.{j}.branch")
        if not is_switch and branch is not None:
            raise _bad(f"node {src!r}: only edges out of a switch have a branch", f"edges.{j}.branch")
        if (src, dst, branch) in seen:
            raise _bad(f"edge {src!r} -> {dst!r}: duplicate edge", f"edges.{j}")
        seen.add((src, dst, branch))
        out[src].append(dst)
        incoming[dst] += 1

    # Kahn's algorithm: whatever cannot be ordered lies on (or behind) a cycle.
    ready = [n for n, count in incoming.items() if count == 0]
    ordered = 0
    while ready:
        current = ready.pop()
        ordered += 1
        for nxt in out[current]:
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                ready.append(nxt)
    if ordered < len(nodes):
        stuck = next(n["id"] for n in nodes if incoming[n["id"]] > 0)
        raise _bad(f"node {stuck!r}: the graph has a cycle through this node", f"nodes.{index[stuck]}")

    refs: dict[str, list[str]] = {kind: [] for kind in _REF_FIELDS}
    versions: list[tuple[str, int]] = []
    for node in nodes:
        if node["type"] in _REF_FIELDS:
            refs[node["type"]].append(node[_REF_FIELDS[node["type"]]])
        if node["type"] == "function" and node.get("version") is not None:
            versions.append((node["function_id"], int(node["version"])))
    # one BatchGetItem (per 100 keys) across the referenced contexts' tables
    *found, existing = read_all(
        devices.device_owners(refs["device"]),
        devices.label_owners(refs["label"]),
        functions.function_owners(refs["function"]),
        integrations.integration_owners(refs["integration"]),
        storages.storage_owners(refs["storage"]),
        functions.existing_versions(versions),
    )
    owners = dict(zip(_REF_FIELDS, found, strict=True))
    for i, node in enumerate(nodes):
        kind = node["type"]
        if kind not in _REF_FIELDS:
            continue
        ref = node[_REF_FIELDS[kind]]
        if owners[kind].get(ref) != owner_id:  # someone else's is reported exactly like a missing one
            raise _bad(f"node {node['id']!r}: {kind} {ref} not found", f"nodes.{i}.{_REF_FIELDS[kind]}")
        if kind == "function" and node.get("version") is not None and (ref, int(node["version"])) not in existing:
            raise _bad(f"node {node['id']!r}: function {ref} has no version {node['version']}", f"nodes.{i}.version")


def _graph(data: FlowCreate | FlowUpdate) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [n.model_dump(exclude_none=True) for n in data.nodes or []]
    for raw, node in zip(data.nodes or [], nodes, strict=True):
        if raw.type == "function":
            node["version"] = raw.version  # null is meaningful: follow the latest
        if raw.type == "switch":
            node["value"] = raw.value
    return nodes, [e.model_dump(exclude_none=True) for e in data.edges or []]


def create_flow(who: Principal, data: FlowCreate) -> Flow:
    nodes, edges = _graph(data)
    validate_graph(who.user_id, nodes, edges)
    flow = Flow(
        **new_resource(who),
        name=data.name,
        description=data.description,
        enabled=data.enabled,
        nodes=nodes,
        edges=edges,
    )
    repository.create(flow)
    return flow


def list_flows(who: Principal, *, limit: int, cursor: str | None) -> Page[Flow]:
    return repository.list_flows(owner_scope(who), limit=limit, cursor=cursor)


def get_flow(who: Principal, flow_id: str) -> Flow:
    return visible(who, repository.get(flow_id), "Flow")


def update_flow(who: Principal, flow_id: str, data: FlowUpdate) -> Flow:
    flow = get_flow(who, flow_id)
    given = sent_fields(data)
    values = {k: given[k] for k in ("name", "description", "enabled") if k in given}
    if "nodes" in given or "edges" in given:
        nodes, edges = _graph(data)
        if "nodes" not in given:
            nodes = flow.nodes
        if "edges" not in given:
            edges = flow.edges
        validate_graph(flow.owner_id, nodes, edges)
        values.update(nodes=nodes, edges=edges)
    update = changed(flow, values)
    if not update:
        return flow
    return repository.update(flow, update, now_iso())


def delete_flow(who: Principal, flow_id: str) -> None:
    repository.delete(get_flow(who, flow_id))


def flow_history(who: Principal, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowExecution]:
    flow = get_flow(who, flow_id)
    return history.for_resource("flow", flow.id, flow.owner_id, limit=limit, cursor=cursor)


def flow_history_entry(who: Principal, flow_id: str, history_id: str) -> FlowExecution:
    flow = get_flow(who, flow_id)
    entry = history.get("flow", flow.id, history_id, flow.owner_id)
    if entry is None:
        raise NotFound("History record not found")
    return entry


def all_flow_history(who: Principal, *, limit: int, cursor: str | None) -> Page[FlowExecution]:
    return history.for_caller(who, "flow", limit=limit, cursor=cursor)
