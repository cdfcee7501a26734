"""Starting flow runs (ingest's outbox, offline detection, dead-letter replays): the trigger lookups, then ONE
message per matching flow, in batches; the flow worker (:mod:`fleetgate.engine.service`) does the rest. Run ids
are deterministic (the event's deduplication key + flow id), so a start sent twice is one run.

Starting is two halves, so that ingest can make its starts durable before anything is sent (an outbox):
:func:`plan` finds the matching flows and returns a plain JSON-able plan (stored by ingest on its deduplication
claim, in the same write), :func:`send` / :func:`send_planned` turn plans into steps on the queue (the flow
starter, fed by that table's stream). :func:`start_runs` does both at once (offline detection).

This module is what the contexts that start runs load: not the worker, its nodes and what they reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetgate.core.cache import MISSING, TtlCache
from fleetgate.core.ids import now_iso
from fleetgate.core.observability import logger
from fleetgate.devices import service as devices
from fleetgate.engine import queues
from fleetgate.engine.schemas import START, Outgoing, Step, run_id_for
from fleetgate.flows import triggers as flows
from fleetgate.flows.records import TriggerMatch

# A flow created, enabled or given a new trigger starts within this many seconds on a warm instance; a flow
# disabled or deleted stops at once (the worker checks the flow when a run starts).
TRIGGER_CACHE_SECONDS = 30
_triggers: TtlCache[list[TriggerMatch]] = TtlCache(TRIGGER_CACHE_SECONDS)  # device id → its trigger matches


def plan(
    *, device_id: str, owner_id: str, dev_eui: str, event: str, message: dict[str, Any], origin: str
) -> dict[str, Any]:
    """Every enabled flow triggered by the device or one of its labels, as a plan for :func:`send`: the event,
    the message once, and per flow its matching trigger nodes (``flows`` is empty when none matches)."""
    by_flow: dict[str, dict[str, list[str]]] = {}
    for entry in _triggered(device_id):
        if entry.owner_id != owner_id:
            continue  # cannot happen through the API (flows only reference their owner's devices); never cross it
        found = by_flow.setdefault(entry.flow_id, {"nodes": [], "triggers": []})
        found["nodes"] += [n for n in entry.node_ids if n not in found["nodes"]]
        found["triggers"].append(entry.trigger)
    return {
        "event": event,
        "owner_id": owner_id,
        "device_id": device_id,
        "dev_eui": dev_eui,
        "origin": origin,
        "received_at": message.get("received_at") or now_iso(),
        "message": message,
        "flows": by_flow,
    }


def _triggered(device_id: str) -> list[TriggerMatch]:
    """The enabled flows the device and its labels trigger: its labels (one Query) and the trigger index (one Query
    per key), remembered by a warm instance for :data:`TRIGGER_CACHE_SECONDS`."""
    found = _triggers.get(device_id)
    if found is MISSING:
        keys = flows.trigger_keys(device_id, devices.label_ids(device_id))
        found = _triggers.put(device_id, flows.flows_triggered_by(keys))
    return found


def _outgoing(planned: dict[str, Any]) -> list[Outgoing]:
    common = {k: planned.get(k) for k in ("event", "owner_id", "device_id", "dev_eui", "origin", "received_at")}
    return [
        Outgoing(
            Step(
                flow_id=flow_id,
                run_id=run_id_for(planned["origin"], flow_id),
                node_id=START,
                message=planned["message"],
                start={**common, "trigger_nodes": found["nodes"], "triggers": found["triggers"]},
            )
        )
        for flow_id, found in (planned.get("flows") or {}).items()
    ]


def send(planned: dict[str, Any]) -> int:
    """Send the first step of every flow of a plan; returns how many."""
    return queues.send_steps(_outgoing(planned))


def send_planned(plans: Sequence[tuple[str, dict[str, Any]]]) -> str | None:
    """Send the plans of many events (the flow starter's batch: (record id, plan), in stream order), packing
    their steps into as few SendMessageBatch calls as they fit. Returns None when every step went out, else the
    id of the first record whose steps may not have: that record and every later one are sent again (their runs
    are deduplicated by their deterministic ids)."""
    pending: list[tuple[str, Outgoing]] = [(rid, out) for rid, p in plans for out in _outgoing(p)]
    for at in range(0, len(pending), queues.SQS_MAX_BATCH):
        chunk = pending[at : at + queues.SQS_MAX_BATCH]
        try:
            queues.send_steps([out for _, out in chunk])
        except Exception:
            logger.exception("flow starts could not be sent; the stream delivers them again")
            return chunk[0][0]
    return None


def start_runs(*, device_id: str, owner_id: str, dev_eui: str, event: str, message: dict[str, Any], origin: str) -> int:
    """Plan and send at once (offline detection: its own schedule retries what fails). Returns how many."""
    return send(
        plan(device_id=device_id, owner_id=owner_id, dev_eui=dev_eui, event=event, message=message, origin=origin)
    )
