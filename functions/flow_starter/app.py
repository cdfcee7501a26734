"""Flow starter: the streams of the device history table (an accepted uplink's entry, which is its claim) and of
the ingest deduplication table (the claims of uplinks without a time of their own) send the flow starts their new
records carry to the steps queue, packed into SendMessageBatch calls across the batch's records. Partial batch
responses: a send that fails resumes the stream at its first record (runs are deduplicated by their ids)."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from fleetgate.core.observability import event_handler
from fleetgate.ingest import outbox


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    claims = [
        (r.dynamodb.sequence_number, r.dynamodb.new_image)
        for r in DynamoDBStreamEvent(event).records
        if r.get("eventName") == "INSERT" and r.dynamodb and r.dynamodb.sequence_number
    ]
    failed = outbox.dispatch(claims)
    return {"batchItemFailures": [{"itemIdentifier": failed}] if failed else []}
