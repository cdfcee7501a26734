"""Flow worker: an SQS batch of flow runs to start or resume, each run executed in process up to its next wait or
its end (partial batch responses: a run that fails is redelivered alone, the rest of the batch is done)."""

from typing import Any

from fleetgate.core.observability import event_handler
from fleetgate.engine import service


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    batch = [
        service.Received(
            message_id=r["messageId"],
            body=r["body"],
            receive_count=int((r.get("attributes") or {}).get("ApproximateReceiveCount") or 1),
        )
        for r in event.get("Records") or []
    ]
    failed = service.handle_batch(batch, remaining_ms=context.get_remaining_time_in_millis)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
