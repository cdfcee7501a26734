"""What running flows needs from the flows context (the flow engine's starts and worker, its dead-letter routes):
the enabled flows a trigger starts, and flow definitions. Kept apart from :mod:`fleetgate.flows.service`, whose
graph validation reaches every referenced context, so that starting a run (ingest, offline detection) loads only
this."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.core.repository import Lookup
from fleetgate.flows import repository
from fleetgate.flows.schemas import Flow, TriggerMatch


def trigger_keys(device_id: str, label_ids: Iterable[str]) -> list[str]:
    """The trigger index keys an event of this device (in these labels) looks up."""
    return [repository.trigger_key("device", device_id), *(repository.trigger_key("label", i) for i in label_ids)]


def flows_triggered_by(keys: Iterable[str]) -> list[TriggerMatch]:
    """The enabled flows these trigger keys start (one Query per key), with their trigger nodes."""
    return repository.flows_for_triggers(keys)


def definition(flow_id: str) -> Flow | None:
    """A flow, whoever owns it (the caller checks the owner it expects)."""
    return repository.get(flow_id)


def definitions(flow_ids: Iterable[str]) -> dict[str, Flow]:
    """The flows to run, whoever owns them (a run knows its owner): id → flow, missing ones left out."""
    return {flow.id: flow for flow in repository.get_many(flow_ids)}


def definitions_lookup(flow_ids: Iterable[str]) -> Lookup[dict[str, Flow]]:
    """:func:`definitions` as a batch read, to read with other contexts' in one BatchGetItem (the flow worker's)."""
    return repository.definitions_lookup(flow_ids)
