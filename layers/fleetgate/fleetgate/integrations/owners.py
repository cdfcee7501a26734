"""Which integrations exist and who owns them: the batch read another context checks its references with (a flow's
nodes), without the integrations service, its models and its delivery code (about 10 ms of a cold start)."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.core.repository import Lookup, owners
from fleetgate.integrations import tables


def integration_owners(integration_ids: Iterable[str]) -> Lookup[dict[str, str]]:
    """Which of these integrations exist and who owns each (id → owner id), as a batch read."""
    return owners(tables.integrations(), integration_ids)
