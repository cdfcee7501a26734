"""The ingest outbox's sending half: the flow starter hands it the new records of two streams, and the flow starts
they carry go to the steps queue: the device history table's (an uplink stamped by its sender is claimed by its
history entry, which carries its starts) and the deduplication table's (the claims of the others, ChirpStack
v3's). Kept apart from :mod:`fleetgate.ingest.service`, so that the flow starter loads neither parsing nor keys
nor presence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetgate.devices import service as devices
from fleetgate.engine import starts as engine
from fleetgate.ingest import repository


def dispatch(claims: Sequence[tuple[str, dict[str, Any]]]) -> str | None:
    """Send the flow starts of these records ((record id, stream image), in stream order, of either stream). None
    when all went out, else the record id the stream resumes from (starts sent twice are one run each)."""
    plans = [
        (rid, starts)
        for rid, image in claims
        if (starts := repository.pending_starts(image) or devices.history_outbox(image))
    ]
    return engine.send_planned(plans) if plans else None
