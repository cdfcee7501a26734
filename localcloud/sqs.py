"""Lambda's SQS event source mapping: poll a queue, invoke the consumer with a real SQS event, delete what succeeded.

As on AWS:
- a batch is up to ``BatchSize`` messages (at most 10 per receive here);
- without ``ReportBatchItemFailures`` a successful invocation deletes the whole batch;
- with it, every record except those listed in ``batchItemFailures`` is deleted (an invalid
  response, such as an unknown ``itemIdentifier``, fails the whole batch);
- when the handler raises, nothing is deleted.

Undeleted messages reappear after the queue's VisibilityTimeout, and the queue's RedrivePolicy
(moto implements it) moves them to the dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.background import Poller
from localcloud.template import Stack

log = logging.getLogger("localcloud.sqs")

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class EventSource:
    function: str  # logical id
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    region: str


def event_sources(stack: Stack, sqs: Any, queue_urls: dict[str, str] | None = None) -> list[EventSource]:
    """The enabled SQS event sources of every function, with each queue's local URL and ARN."""
    by_reference = {}  # what Stack.resolve gives for !Ref / !GetAtt .Arn / .QueueName → logical id
    for logical_id in stack.resources_of("AWS::SQS::Queue"):
        for ref in (
            {"Ref": logical_id},
            {"Fn::GetAtt": [logical_id, "Arn"]},
            {"Fn::GetAtt": [logical_id, "QueueName"]},
        ):
            by_reference[stack.resolve(ref)] = logical_id
    sources = []
    for fn in stack.functions.values():
        for props in fn.sqs_sources:
            if props.get("Enabled") is False:
                continue
            queue = props["Queue"]
            logical_id = by_reference.get(queue)
            if queue_urls and logical_id in queue_urls:
                url = queue_urls[logical_id]
            else:  # a queue outside the template: find it by name
                url = sqs.get_queue_url(QueueName=str(queue).rsplit("/", 1)[-1].rsplit(":", 1)[-1])["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sources.append(
                EventSource(
                    function=fn.logical_id,
                    queue_url=url,
                    queue_arn=arn,
                    batch_size=min(int(props.get("BatchSize", 10)), 10),
                    report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    region=stack.region,
                )
            )
    return sources


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands an SQS consumer for ``messages`` (as ReceiveMessage returned them)."""
    return {"Records": [_record(m, queue_arn, region) for m in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {name: _attribute(value) for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's ``{"StringValue", "DataType"}`` → Lambda's ``{"stringValue", ..., "dataType"}``."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


class SqsPoller(Poller):
    """Feeds one event source to its function; :meth:`poll_once` is one receive-invoke-delete round (a long poll of
    ``wait_seconds``)."""

    def __init__(self, source: EventSource, sqs: Any, invoke: Invoke, *, wait_seconds: int = 1):
        super().__init__()
        self.source = source
        self.sqs = sqs
        self.invoke = invoke
        self.wait_seconds = wait_seconds
        self.name = f"sqs-{source.function}"

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages were received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=self.source.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self._deliver(messages)
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        src = self.source
        event = sqs_event(messages, src.queue_arn, src.region)
        try:
            result = self.invoke(src.function, event)
        except Exception:
            log.exception(
                "%s failed on a batch of %d from %s; the messages return after the visibility timeout",
                src.function,
                len(messages),
                src.queue_arn.rsplit(":", 1)[-1],
            )
            return
        failed = self._failed_ids(result, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=src.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        if failed:
            log.warning(
                "%s reported %d of %d messages failed; they return after the visibility timeout",
                src.function,
                len(failed),
                len(messages),
            )

    def _failed_ids(self, result: Any, batch: set[str]) -> set[str]:
        """The messages to keep: those in ``batchItemFailures``, or all of them when the response is invalid."""
        if not self.source.report_failures or not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()
        try:
            failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        except (TypeError, KeyError):
            failed = {""}
        if not failed <= batch:
            log.error(
                "%s returned batchItemFailures with unknown or empty itemIdentifier; Lambda fails the whole batch",
                self.source.function,
            )
            return batch
        return failed
