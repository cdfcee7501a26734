"""Search indexer: the DynamoDB Streams of the devices, functions, flows and integrations tables feed the search
index (Powertools BatchProcessor, partial batch responses: Lambda retries from the first record that failed, and
indexing a record again changes nothing)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from fleetgate.core.observability import event_handler
from fleetgate.search import service

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> bool:
    change = record.dynamodb
    return service.index_change(change.old_image if change else None, change.new_image if change else None)


@event_handler
def lambda_handler(event: dict, context: Any) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
