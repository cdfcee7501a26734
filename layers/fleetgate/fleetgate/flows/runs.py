"""What the flow worker needs from the flows context: the definitions of the flows it runs. Kept apart from
:mod:`fleetgate.flows.service`, whose graph validation reaches every referenced context. Starting runs reads the
trigger index through :mod:`fleetgate.flows.triggers` and the dead-letter routes a flow's owner through
:mod:`fleetgate.flows.owners`, so that neither loads the flow definition schemas this module returns."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.core.repository import Lookup
from fleetgate.flows import repository
from fleetgate.flows.schemas import Flow


def definitions_lookup(flow_ids: Iterable[str]) -> Lookup[dict[str, Flow]]:
    """The flows to run, whoever owns them (a run knows its owner), id → flow with missing ones left out, as a batch
    read to read with other contexts' in one BatchGetItem (the flow worker's)."""
    return repository.definitions_lookup(flow_ids)
