"""Lock commands and EMI reminders from SQS, sent over FCM (Powertools BatchProcessor, partial batch responses:
a message that fails on infrastructure is redelivered alone, then dead-lettered)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from fleetgate.core.ids import utc_now
from fleetgate.core.observability import event_handler
from fleetgate.financing import delivery

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    return delivery.deliver(record.body, utc_now(), receive_count=int(record.attributes.approximate_receive_count))


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
