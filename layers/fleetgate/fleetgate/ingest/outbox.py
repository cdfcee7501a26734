"""The ingest outbox's sending half: the flow starter hands it the new claims of the deduplication table's stream,
and the flow starts they carry go to the steps queue. Kept apart from :mod:`fleetgate.ingest.service`, so that the
flow starter loads neither parsing nor keys nor presence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetgate.engine import starts as engine
from fleetgate.ingest import repository


def dispatch(claims: Sequence[tuple[str, dict[str, Any]]]) -> str | None:
    """Send the flow starts of these claims ((record id, stream image), in stream order). None when all went out,
    else the record id the stream resumes from (starts sent twice are one run each)."""
    plans = [(rid, starts) for rid, image in claims if (starts := repository.pending_starts(image))]
    return engine.send_planned(plans) if plans else None
