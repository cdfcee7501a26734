"""The sample events of the new functions (events/*.json) drive their handlers as Lambda would, against real data."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tests.flow_support import ScriptedSink, queue_url, run_worker
from tests.support import new_eui

EVENTS = Path(__file__).resolve().parent.parent / "events"


def _load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_given_the_function_url_sample_event_with_a_real_key_and_device_then_the_uplink_is_accepted(api):
    user = api.register()
    key = api.call("POST", "/api/v1/ingest/keys", token=user["token"], json_body={"name": "cs"}).body["key"]
    api.call("POST", "/api/v1/devices", token=user["token"], json_body={"dev_eui": "70B3D57ED0000001", "name": "d"})
    event = json.loads((EVENTS / "ingest-chirpstack-up.json").read_text().replace("{{ingest_key}}", key))

    result = api.functions.invoke("IngestFunction", event)

    assert event["routeKey"] == "$default" and ".lambda-url." in event["requestContext"]["domainName"]
    assert result["statusCode"] == 202, result
    body = json.loads(result["body"])
    assert (body["status"], body["format"], body["dev_eui"]) == ("accepted", "chirpstack_v4", "70b3d57ed0000001")


def test_given_the_sqs_sample_event_for_a_real_flow_then_the_worker_starts_its_run(api):
    user = api.register()
    t = user["token"]
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": new_eui(), "name": "d"}).body
    with ScriptedSink() as sink:
        integration = api.call(
            "POST",
            "/api/v1/integrations",
            token=t,
            json_body={"name": "s", "type": "http", "config": {"url": sink.url}},
        ).body
        flow = api.call(
            "POST",
            "/api/v1/flows",
            token=t,
            json_body={
                "name": "sample",
                "nodes": [
                    {"id": "sensor", "type": "device", "device_id": device["id"]},
                    {"id": "out", "type": "integration", "integration_id": integration["id"]},
                ],
                "edges": [{"source": "sensor", "target": "out"}],
            },
        ).body
        event = _load("flow-worker-sqs.json")
        step = json.loads(event["Records"][0]["body"])
        step["flow_id"] = flow["id"]
        step["start"].update(owner_id=flow["owner_id"], device_id=device["id"])
        event["Records"][0]["body"] = json.dumps(step)

        result = api.functions.invoke("FlowWorkerFunction", event)
        run_worker(api)

        assert result == {"batchItemFailures": []}
        assert [r["body"]["data"] for r in sink.requests] == [{"temperature": 4.5, "humidity": 48, "battery": 92}]
        [run] = api.call("GET", f"/api/v1/flows/{flow['id']}/history", token=t).body["items"]
        assert run["run_id"] == step["run_id"] and run["status"] == "success"


def test_given_the_sqs_sample_event_as_it_is_then_the_unknown_flow_is_skipped_and_the_batch_succeeds(api):
    assert api.functions.invoke("FlowWorkerFunction", _load("flow-worker-sqs.json")) == {"batchItemFailures": []}


def test_given_the_scheduled_sample_event_then_offline_detection_runs(api):
    result = api.functions.invoke("OfflineFunction", _load("offline-schedule.json"))

    assert result == {
        "checked_at": "2026-11-22T09:30:00.000Z",
        "marked_offline": 0,
        "flows_started": 0,
        "complete": True,
    }


def test_given_the_history_stream_sample_event_then_the_flow_starter_sends_its_start_to_the_steps_queue(api):
    result = api.functions.invoke("FlowStarterFunction", _load("flow-starter-stream.json"))

    assert result == {"batchItemFailures": []}
    [message] = (
        boto3.client("sqs", region_name="us-east-1")
        .receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0)
        .get("Messages", [])
    )
    step = json.loads(message["Body"])
    assert (step["flow_id"], step["node_id"]) == ("5d0c8c0e-2f7a-4a55-8d1e-7f3b9e2a6c41", "$start")
    assert step["start"]["trigger_nodes"] == ["sensor"] and step["message"]["data"]["temperature"] == 4.5
