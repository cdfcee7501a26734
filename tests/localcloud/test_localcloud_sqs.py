"""The SQS event source mapping: real SQS events, partial batch responses, redelivery and the DLQ."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from localcloud.sqs import EventSource, SqsPoller, event_sources
from tests.localcloud.fixtures.fakeapp import journal


def _poller(cloud: Any, invoke: Callable[[str, dict], Any] | None = None) -> SqsPoller:
    (source,) = event_sources(cloud.stack, cloud.sqs, cloud.queue_urls)
    return SqsPoller(source, cloud.sqs, invoke or cloud.functions.invoke, wait_seconds=0)


def _send(cloud: Any, *bodies: str) -> None:
    for body in bodies:
        cloud.sqs.send_message(QueueUrl=cloud.queue_urls["WorkQueue"], MessageBody=body)


def _counts(cloud: Any, queue: str) -> tuple[int, int]:
    attrs = cloud.sqs.get_queue_attributes(
        QueueUrl=cloud.queue_urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _drain_into_dlq(cloud: Any, poller: SqsPoller, expected: int, timeout: float = 15.0) -> list[str]:
    """Keep polling (as Lambda does) until ``expected`` messages sit in the DLQ; returns their bodies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poller.poll_once()
        if _counts(cloud, "WorkDeadLetterQueue")[0] >= expected:
            break
        time.sleep(0.25)
    got = cloud.sqs.receive_message(QueueUrl=cloud.queue_urls["WorkDeadLetterQueue"], MaxNumberOfMessages=10)
    return sorted(m["Body"] for m in got.get("Messages", []))


def test_given_the_fixture_template_when_reading_event_sources_then_queue_batch_and_response_types_come_from_it(
    fixture_cloud,
):
    (source,) = event_sources(fixture_cloud.stack, fixture_cloud.sqs, fixture_cloud.queue_urls)
    assert source == EventSource(
        function="ConsumerFunction",
        queue_url=fixture_cloud.queue_urls["WorkQueue"],
        queue_arn="arn:aws:sqs:us-east-1:123456789012:fleetgate-local-WorkQueue",
        batch_size=10,
        report_failures=True,
        region="us-east-1",
    )


def test_given_a_message_with_attributes_when_polled_then_the_function_gets_a_real_sqs_event(fixture_cloud, tag):
    seen: list[dict] = []
    fixture_cloud.sqs.send_message(
        QueueUrl=fixture_cloud.queue_urls["WorkQueue"],
        MessageBody=f"hello-{tag}",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "uplink"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )

    received = _poller(fixture_cloud, lambda fn, event: seen.append(event)).poll_once()

    assert received == 1
    (record,) = seen[0]["Records"]
    assert record["body"] == f"hello-{tag}"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:fleetgate-local-WorkQueue"
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "uplink",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["raw"]["binaryValue"]) == b"\x00\xff"


def test_given_one_failing_message_when_consumed_then_successes_are_deleted_and_the_failure_ends_in_the_dlq(
    fixture_cloud, tag
):
    ok1, bad, ok2 = f"ok-{tag}-1", f"fail-{tag}", f"ok-{tag}-2"
    _send(fixture_cloud, ok1, bad, ok2)
    poller = _poller(fixture_cloud)

    assert poller.poll_once() == 3

    # then the two successes are gone and only the failure waits out its visibility timeout
    assert _counts(fixture_cloud, "WorkQueue") == (0, 1)
    assert [b for b in journal.received("consumer") if tag in b] == [ok1, ok2]
    # and after maxReceiveCount (2) receives, the redrive policy moves the failure to the DLQ
    assert _drain_into_dlq(fixture_cloud, poller, expected=1) == [bad]
    assert [b for b in journal.received("consumer") if tag in b] == [ok1, ok2]  # successes never redelivered
    assert _counts(fixture_cloud, "WorkQueue") == (0, 0)


def test_given_a_handler_that_raises_mid_batch_when_consumed_then_no_message_is_lost(fixture_cloud, tag):
    bodies = [f"ok-{tag}-a", f"explode-{tag}", f"ok-{tag}-b"]
    _send(fixture_cloud, *bodies)
    poller = _poller(fixture_cloud)

    poller.poll_once()

    # then nothing was deleted, although the handler got through a record before crashing
    assert _counts(fixture_cloud, "WorkQueue") == (0, 3)
    assert f"ok-{tag}-a" in journal.received("consumer-seen")
    # and every message of the batch comes back, and ends in the DLQ when the batch keeps crashing
    assert _drain_into_dlq(fixture_cloud, poller, expected=3) == sorted(bodies)


def test_given_a_response_naming_an_unknown_message_when_consumed_then_the_whole_batch_fails(fixture_cloud, tag):
    _send(fixture_cloud, f"ok-{tag}-1", f"ok-{tag}-2")
    poller = _poller(fixture_cloud, lambda fn, event: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]})

    assert poller.poll_once() == 2

    assert _counts(fixture_cloud, "WorkQueue") == (0, 2)


def test_given_an_empty_failure_list_when_consumed_then_the_whole_batch_is_deleted(fixture_cloud, tag):
    _send(fixture_cloud, f"ok-{tag}-1", f"ok-{tag}-2")
    poller = _poller(fixture_cloud, lambda fn, event: {"batchItemFailures": []})

    poller.poll_once()

    assert _counts(fixture_cloud, "WorkQueue") == (0, 0)


def test_given_a_running_poller_when_a_message_arrives_then_it_is_consumed_in_the_background_and_stop_returns(
    fixture_cloud, tag
):
    (source,) = event_sources(fixture_cloud.stack, fixture_cloud.sqs, fixture_cloud.queue_urls)
    poller = SqsPoller(source, fixture_cloud.sqs, fixture_cloud.functions.invoke).start()
    try:
        _send(fixture_cloud, f"ok-{tag}-bg")
        deadline = time.monotonic() + 10
        while f"ok-{tag}-bg" not in journal.received("consumer") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        started = time.monotonic()
        poller.stop()
    assert f"ok-{tag}-bg" in journal.received("consumer")
    assert time.monotonic() - started < 5
    assert not poller._thread.is_alive()
