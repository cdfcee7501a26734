"""The search index is fed from the resource tables' DynamoDB Streams (SearchIndexerFunction), so an entity and its
search entry cannot half-happen: a failed indexing is retried from the stream, as Lambda's event source mapping
does (tests/conftest.py delivers stream records through the local cloud's mapping after each request)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from tests.support import STACK, ClientHook, new_eui

EVENTS = Path(__file__).resolve().parent.parent / "events"


def _names(api, token: str, query: str, *, streams: bool = True) -> list[str]:
    reply = api.call("GET", "/api/v1/search", token=token, query={"query": query}, streams=streams)
    assert reply.status == 200, reply.body
    return sorted(hit["name"] for hit in reply.body["items"])


class FailingWrites(ClientHook):
    """DynamoDB failing the search index's writes (a throttled BatchWriteItem) for the calls in ``failing``
    (1-based)."""

    event = "before-parameter-build.dynamodb.BatchWriteItem"

    def __init__(self, failing: set[int] | None = None, *, always: bool = False):
        self.failing, self.always, self.calls = failing or set(), always, 0

    def __call__(self, model, params, **_) -> None:
        if model.name != "BatchWriteItem" or not any(t.endswith("SearchTable") for t in params.get("RequestItems", {})):
            return
        self.calls += 1
        if self.always or self.calls in self.failing:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}, "BatchWriteItem"
            )


def _failure_records() -> list[dict]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=STACK.physical_name("SearchIndexFailuresQueue"))["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_given_a_batch_of_changes_when_the_indexer_fails_once_mid_batch_then_the_index_ends_consistent(api):
    t = api.register()["token"]
    # five changes of one stream, delivered as one batch: create A and B, rename A, delete B, create C
    a = api.call(
        "POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo alpha"}, streams=False
    )
    b = api.call(
        "POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo beta"}, streams=False
    )
    api.call("PUT", f"/api/v1/devices/{a.body['id']}", token=t, json_body={"name": "Silo omega"}, streams=False)
    api.call("DELETE", f"/api/v1/devices/{b.body['id']}", token=t, streams=False)
    api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo gamma"}, streams=False)
    assert _names(api, t, "silo", streams=False) == []  # nothing indexed yet: the records wait on the stream

    batches: list[list[str]] = []
    for poller in api.streams.pollers:
        invoke = poller.invoke

        def spy(function: str, event: dict, invoke=invoke) -> object:
            batches.append([r["eventName"] for r in event["Records"]])
            return invoke(function, event)

        poller.invoke = spy

    with FailingWrites(failing={3}):  # the rename's index write fails, once
        api.deliver_streams()

    # Lambda's checkpoint: the records before the failed one stay done; the failed one and every later one come
    # again; indexing a record twice changes nothing
    assert batches == [["INSERT", "INSERT", "MODIFY", "REMOVE", "INSERT"], ["MODIFY", "REMOVE", "INSERT"]]
    assert _names(api, t, "silo") == ["Silo gamma", "Silo omega"]
    assert _names(api, t, "alpha") == [] and _names(api, t, "beta") == []
    assert _failure_records() == []


def test_given_a_record_that_keeps_failing_then_its_batch_is_parked_on_the_failure_queue_and_the_stream_moves_on(api):
    t = api.register()["token"]
    with FailingWrites(always=True):
        api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo delta"})

    [record] = _failure_records()
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and "DevicesTable/stream/" in info["streamArn"]
    # the stream moved on: the next change is indexed
    api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo epsilon"})
    assert _names(api, t, "silo") == ["Silo epsilon"]


def test_given_presence_updates_then_the_indexer_writes_nothing(api):
    """Uplinks rewrite a device's presence attributes: their stream records change nothing searchable."""
    from fleetgate.search import service

    device = {"kind": "device", "id": "d1", "owner_id": "u1", "name": "Silo", "dev_eui": "70b3d57ed0000001"}

    assert (
        service.index_change(device, {**device, "status": "online", "last_seen": "2026-11-22T08:00:00.000Z"}) is False
    )
    assert service.index_change({**device, "kind": "label"}, None) is False  # not a searchable resource


def test_given_the_stream_sample_event_then_the_indexer_indexes_it(api):
    user = api.register()
    event = json.loads((EVENTS / "search-indexer-stream.json").read_text().replace("{{owner_id}}", _user_id(user)))

    result = api.functions.invoke("SearchIndexerFunction", event)

    assert result == {"batchItemFailures": []}
    assert _names(api, user["token"], "pump") == ["Pump house"]


def _user_id(user: dict) -> str:
    from fleetgate.core.auth import verify_token

    return verify_token(user["token"]).user_id


class _Reply:
    status_code = 400


def test_given_an_iterator_behind_the_shards_oldest_record_then_the_mapping_reads_from_the_oldest_one(api):
    """DynamoDB Local numbers stream records across all its tables: an iterator taken while a table's stream was
    empty can point before the table's first record, and GetRecords answers TrimmedDataAccessException (on AWS: a
    reader more than 24 hours behind). The mapping goes on from the oldest record the shard holds."""
    t = api.register()["token"]
    api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "Silo zeta"}, streams=False)
    [poller] = [p for p in api.streams.pollers if p.source.table == "DevicesTable"]
    trimmed = {"Error": {"Code": "TrimmedDataAccessException", "Message": "read past the oldest stream record"}}
    answers = [(_Reply(), trimmed)]  # the first GetRecords only

    def once(**_) -> object:
        return answers.pop() if answers else None

    events = poller.streams.meta.events
    events.register("before-call.dynamodbstreams.GetRecords", once)
    try:
        api.deliver_streams()
    finally:
        events.unregister("before-call.dynamodbstreams.GetRecords", once)

    assert answers == []  # the trimmed answer was given
    assert _names(api, t, "zeta") == ["Silo zeta"]
