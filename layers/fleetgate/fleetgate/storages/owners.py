"""Which storages exist and who owns them: the batch read another context checks its references with (a flow's
nodes), without the storages service and its models."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.core.repository import Lookup, owners
from fleetgate.storages import tables


def storage_owners(storage_ids: Iterable[str]) -> Lookup[dict[str, str]]:
    """Which of these storages exist and who owns each (id → owner id), as a batch read."""
    return owners(tables.storages(), storage_ids)
