"""What starting runs needs from the flows context (the flow engine's starts: ingest, offline detection): the
trigger keys of a device's event and the enabled flows they start, read from the trigger index without the
flow definition schemas or the graph validation of :mod:`fleetgate.flows.service`."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.flows import tables
from fleetgate.flows.records import TriggerMatch


def trigger_keys(device_id: str, label_ids: Iterable[str]) -> list[str]:
    """The trigger index keys an event of this device (in these labels) looks up."""
    return [tables.trigger_key("device", device_id), *(tables.trigger_key("label", i) for i in label_ids)]


def flows_triggered_by(keys: Iterable[str]) -> list[TriggerMatch]:
    """The enabled flows these trigger keys start (one Query per key), with their trigger nodes."""
    return tables.flows_for_triggers(keys)
