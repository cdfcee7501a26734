"""Who owns a flow: the read the flow engine's dead-letter routes check access with, without the flow definition
schemas (about 10 ms of a cold start)."""

from __future__ import annotations

from fleetgate.flows import tables
from fleetgate.flows.records import FlowOwner


def flow_owner(flow_id: str) -> FlowOwner | None:
    """A flow's id and owner, whoever owns it (the caller checks who may see it), or None when it does not exist."""
    return tables.flow_owner(flow_id)
