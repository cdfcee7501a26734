"""What one uplink of the two-step flow (device → function → HTTP integration) costs in AWS calls and DynamoDB
write units, warm, at the flow worker's batch size of 10: a budget, so that a regression fails CI. The figures
per scenario, CPU and prices are bench/engine_cost.py's (README "What it costs")."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from localcloud import capacity
from localcloud.sqs import sqs_event
from tests.flow_support import ScriptedSink, later, poller, queue_url, v4_up
from tests.support import STACK, new_eui

TO_FAHRENHEIT = "function process(m) { m.data.temperatureF = m.data.temperature * 9 / 5 + 32; return m; }"
BATCH = 10
# Per uplink, warm. Ingest: the device, its history entry (the claim, keyed by the uplink's own time and
# deduplicationId, with its flow starts; presence: once a minute).
# Flow starter: one SendMessageBatch per 10 starts. Worker, per batch of 10: one BatchGetItem for the flows and
# the runs recorded, one for the function code, one for the integrations (and storages); one history item per
# run (its trace, its function run and integration call packed with it) in BatchWriteItem calls of 25.
INGEST_CALLS = ["dynamodb GetItem", "dynamodb PutItem"]
STARTER_CALLS_PER_BATCH = {"sqs SendMessageBatch": 1}
WORKER_CALLS_PER_BATCH = {"dynamodb BatchGetItem": 3, "dynamodb BatchWriteItem": 1}
SQS_POLLER_CALLS_PER_BATCH = 2  # Lambda's: ReceiveMessage, DeleteMessageBatch
MAX_CALLS_PER_UPLINK = 2.7  # 2 + 0.1 + 0.4 + 0.2
# device history 3 (the entry with its packed flow starts, about 800 bytes, and its two index copies) + the run's
# item 2 (about 880 bytes packed with its function run and integration call, and its by_owner copy: keys and refs)
MAX_WRU_PER_UPLINK = 5
# Each further flow the uplink matches: its run's item and index copy; its message's share of the starter's and the
# worker's calls (one SendMessageBatch per 10, and per batch of 10 runs 3 BatchGetItem, 1 BatchWriteItem, 2 SQS).
MAX_WRU_PER_EXTRA_FLOW = 2
MAX_CALLS_PER_EXTRA_FLOW = 0.7


class Cost:
    """The layer's AWS calls ("service Operation") and the write units of its PutItem / BatchWriteItem calls
    (localcloud.capacity: each item on its table and on every index that holds it, as the bench counts them). A
    warm uplink makes no other write: the call budget below says so."""

    def __init__(self) -> None:
        from fleetgate.core.repository import shared_connection
        from fleetgate.engine import queues

        self.clients = [shared_connection().client, queues.sqs()]
        self.tables = capacity.tables(STACK)
        self.calls: Counter[str] = Counter()
        self.wru = 0

    def __enter__(self) -> Cost:
        for c in self.clients:
            c.meta.events.register("before-parameter-build", self)
        return self

    def __exit__(self, *_: object) -> None:
        for c in self.clients:
            c.meta.events.unregister("before-parameter-build", self)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[f"{model.service_model.service_name} {model.name}"] += 1
        if model.name == "PutItem":
            self._put(params["TableName"], params["Item"])
        elif model.name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    self._put(table, r.get("PutRequest", {}).get("Item", {}))

    def _put(self, table: str, item: dict[str, Any]) -> None:
        self.wru += self.tables[table].write_units(item)


def test_given_the_two_step_flow_warm_then_an_uplink_costs_its_budget_and_a_second_matching_flow_little_more(
    api, monkeypatch
):
    t = api.register()["token"]
    eui = new_eui()
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": eui, "name": "freezer"}).body
    key = api.call("POST", "/api/v1/ingest/keys", token=t, json_body={"name": "cs"}).body["key"]
    fn = api.call("POST", "/api/v1/functions", token=t, json_body={"name": "to F", "code": TO_FAHRENHEIT}).body
    sqs = boto3.client("sqs", region_name="us-east-1")
    feed = poller(api)
    with ScriptedSink() as sink:
        config = {"url": sink.url, "timeout_seconds": 2}
        out = api.call(
            "POST", "/api/v1/integrations", token=t, json_body={"name": "sink", "type": "http", "config": config}
        ).body
        nodes = [
            {"id": "dev", "type": "device", "device_id": device["id"]},
            {"id": "toF", "type": "function", "function_id": fn["id"]},
            {"id": "out", "type": "integration", "integration_id": out["id"]},
        ]
        edges = [{"source": "dev", "target": "toF"}, {"source": "toF", "target": "out"}]
        flow = {"name": "two step", "nodes": nodes, "edges": edges}
        api.call("POST", "/api/v1/flows", token=t, json_body=flow)

        def uplinks(n: int, flows: int = 1) -> tuple[Counter[str], list[list[str]], int]:
            per_ingest = []
            with Cost() as cost:
                for _ in range(n):
                    before = Counter(cost.calls)
                    reply = api.call(
                        "POST",
                        "/api/v1/ingest/chirpstack",
                        json_body=v4_up(eui),
                        query={"event": "up"},
                        headers={"x-api-key": key},
                        streams=False,
                    )
                    assert reply.status == 202 and reply.body["status"] == "accepted", reply.body
                    per_ingest.append(sorted((cost.calls - before).elements()))
                api.deliver_streams()  # one flow starter invocation for the batch's claims
                for left in range(n * flows, 0, -10):  # a worker invocation per 10 messages, as Lambda's poller
                    got = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0)
                    messages = got.get("Messages", [])
                    assert len(messages) == min(left, 10)
                    result = api.functions.invoke(
                        "FlowWorkerFunction", sqs_event(messages, feed.source.queue_arn, "us-east-1")
                    )
                    assert result == {"batchItemFailures": []}
                    sqs.delete_message_batch(
                        QueueUrl=queue_url(),
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                    )
            return cost.calls, per_ingest, cost.wru

        uplinks(1)  # the first uplink: a cold instance reads the key, the device, its triggers; presence written
        calls, per_ingest, wru = uplinks(BATCH)
        assert len(sink.requests) == BATCH + 1

        api.call("POST", "/api/v1/flows", token=t, json_body={**flow, "name": "two step, again"})
        later(monkeypatch)  # the instances' trigger caches have expired: the device's uplinks start both flows
        uplinks(1, flows=2)  # and the first uplink reads what expired
        calls_2, _, wru_2 = uplinks(BATCH, flows=2)
        assert len(sink.requests) == BATCH + 1 + 2 + 2 * BATCH
    assert per_ingest == [sorted(INGEST_CALLS)] * BATCH
    expected = Counter(INGEST_CALLS * BATCH) + Counter(STARTER_CALLS_PER_BATCH)
    expected += Counter(WORKER_CALLS_PER_BATCH)
    assert calls == expected
    per_uplink = (sum(calls.values()) + SQS_POLLER_CALLS_PER_BATCH) / BATCH
    assert per_uplink <= MAX_CALLS_PER_UPLINK
    assert wru / BATCH <= MAX_WRU_PER_UPLINK, wru / BATCH
    extra_calls = (sum(calls_2.values()) - sum(calls.values()) + SQS_POLLER_CALLS_PER_BATCH) / BATCH
    assert extra_calls <= MAX_CALLS_PER_EXTRA_FLOW, extra_calls
    assert (wru_2 - wru) / BATCH <= MAX_WRU_PER_EXTRA_FLOW, (wru_2 - wru) / BATCH
