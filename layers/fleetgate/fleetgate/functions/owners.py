"""Which functions (and pinned versions) exist and who owns them: the batch reads another context checks its
references with (a flow's nodes), without the functions service and its models (about 8 ms of a cold start)."""

from __future__ import annotations

from collections.abc import Iterable

from fleetgate.core.repository import Lookup, owners
from fleetgate.functions import tables


def function_owners(function_ids: Iterable[str]) -> Lookup[dict[str, str]]:
    """Which of these functions exist and who owns each (id → owner id), as a batch read."""
    return owners(tables.functions(), function_ids)


def existing_versions(keys: Iterable[tuple[str, int]]) -> Lookup[set[tuple[str, int]]]:
    """Which of these (function id, version) pairs exist, as a batch read."""
    return Lookup(
        tables.versions(), list(dict.fromkeys(keys)), lambda found: {(i.function_id, int(i.version)) for i in found}
    )
