"""Flow worker: one flow step per SQS message (Powertools BatchProcessor, partial batch responses: a step that
fails is redelivered alone, the rest of the batch is done)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from fleetgate.core.observability import event_handler
from fleetgate.engine import service

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: Any) -> str:
    receives = (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount") or 1
    return service.handle_step(
        record.body, receive_count=int(receives), remaining_ms=lambda_context.get_remaining_time_in_millis()
    )


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
