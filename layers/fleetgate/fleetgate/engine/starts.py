"""Starting flow runs (ingest, offline detection, dead-letter replays): the trigger lookups, then ONE message per
matching flow, in batches; the flow worker (:mod:`fleetgate.engine.service`) does the rest. Run ids are
deterministic (the event's deduplication key + flow id), so a start sent twice is one run.

This module is what the contexts that start runs load: not the worker, its nodes and what they reach.
"""

from __future__ import annotations

from typing import Any

from fleetgate.core.ids import now_iso
from fleetgate.devices import service as devices
from fleetgate.engine import queues
from fleetgate.engine.schemas import START, Outgoing, Step, run_id_for
from fleetgate.flows import runs as flows


def start_runs(*, device_id: str, owner_id: str, dev_eui: str, event: str, message: dict[str, Any], origin: str) -> int:
    """Send the first step of a run for every enabled flow triggered by the device or one of its labels: one
    Query per trigger key (the fan-out itself costs no DynamoDB call: it happens in SQS). Returns how many."""
    keys = flows.trigger_keys(device_id, devices.label_ids(device_id))
    by_flow: dict[str, dict[str, list[str]]] = {}
    for entry in flows.flows_triggered_by(keys):
        if entry.owner_id != owner_id:
            continue  # cannot happen through the API (flows only reference their owner's devices); never cross it
        found = by_flow.setdefault(entry.flow_id, {"nodes": [], "triggers": []})
        found["nodes"] += [n for n in entry.node_ids if n not in found["nodes"]]
        found["triggers"].append(entry.trigger)
    received_at = message.get("received_at") or now_iso()
    outgoing = [
        Outgoing(
            Step(
                flow_id=flow_id,
                run_id=run_id_for(origin, flow_id),
                node_id=START,
                message=message,
                start={
                    "event": event,
                    "owner_id": owner_id,
                    "device_id": device_id,
                    "dev_eui": dev_eui,
                    "trigger_nodes": found["nodes"],
                    "triggers": found["triggers"],
                    "origin": origin,
                    "received_at": received_at,
                },
            )
        )
        for flow_id, found in by_flow.items()
    ]
    return queues.send_steps(outgoing)
