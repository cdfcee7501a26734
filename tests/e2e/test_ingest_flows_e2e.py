"""Ingest and the flow engine end to end: a real local cloud process, real HTTP (the Function URL and the API),
its SQS pollers and scheduler, fake sinks on 127.0.0.1. Waits poll with deadlines.

The cloud runs with small queue timings (parameters, as ``make dev ARGS="--param ..."`` would): a 2 s visibility
timeout, and delays beyond 1 s through EventBridge Scheduler, so delay nodes and retry backoff use the scheduler.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningCloud, run_cli, start_cloud, state_of, wait_for
from tests.flow_support import ScriptedSink, helium_up, v3_up, v4_up

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
FUNCTION_URL = "/lambda-url/IngestFunction/api/v1/ingest/chirpstack"
TO_FAHRENHEIT = "function process(m) { m.data.temperatureF = m.data.temperature * 9 / 5 + 32; return m; }"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    running = start_cloud(
        tmp_path_factory.mktemp("ingest-cloud"),
        "--param",
        "FlowQueueVisibilityTimeout=2",
        "--param",
        "FlowSqsDelayLimit=1",
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(cloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        yield client


class User:
    def __init__(self, http: httpx.Client):
        tag = uuid.uuid4().hex[:10]
        email = f"flows-{tag}@example.com"
        assert (
            http.post(
                "/api/v1/auth/register", json={"email": email, "username": f"flows_{tag}", "password": PASSWORD}
            ).status_code
            == 201
        )
        token = http.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD}).json()["access_token"]
        self.http, self.auth = http, {"Authorization": f"Bearer {token}"}
        self.key = self.post("/api/v1/ingest/keys", {"name": "ChirpStack"})["key"]
        self.eui = uuid.uuid4().hex[:16]
        self.device = self.post(
            "/api/v1/devices", {"dev_eui": self.eui, "name": "freezer", "expected_transmit_time": 900}
        )
        self.fn = self.post("/api/v1/functions", {"name": "to F", "code": TO_FAHRENHEIT})

    def post(self, path: str, body: dict, status: int = 201) -> Any:
        reply = self.http.post(path, json=body, headers=self.auth)
        assert reply.status_code == status, reply.text
        return reply.json()

    def get(self, path: str) -> Any:
        reply = self.http.get(path, headers=self.auth)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def integration(self, url: str, **config) -> dict:
        return self.post(
            "/api/v1/integrations",
            {
                "name": f"sink {uuid.uuid4().hex[:4]}",
                "type": "http",
                "config": {"url": url, "timeout_seconds": 2, **config},
            },
        )

    def flow(self, nodes: list[dict], edges: list[tuple[str, str]]) -> dict:
        return self.post(
            "/api/v1/flows",
            {
                "name": f"flow {uuid.uuid4().hex[:4]}",
                "nodes": [{"id": "dev", "type": "device", "device_id": self.device["id"]}, *nodes],
                "edges": [{"source": s, "target": t} for s, t in edges],
            },
        )

    def two_step(self, integration: dict) -> dict:
        return self.flow(
            [
                {"id": "toF", "type": "function", "function_id": self.fn["id"]},
                {"id": "out", "type": "integration", "integration_id": integration["id"]},
            ],
            [("dev", "toF"), ("toF", "out")],
        )

    def ingest(self, body: dict, *, via: str = FUNCTION_URL, event: str = "up") -> dict:
        reply = self.http.post(
            via,
            params={"event": event},
            content=json.dumps(body),
            headers={"content-type": "application/json", "x-api-key": self.key},
        )
        assert reply.status_code == 202, reply.text
        return reply.json()

    def runs(self, flow: dict) -> list[dict]:
        return self.get(f"/api/v1/flows/{flow['id']}/history")["items"]

    def settled(self, flow: dict, count: int = 1, timeout: float = 30) -> list[dict]:
        return wait_for(
            lambda: (r := self.runs(flow)) and len(r) >= count and r,
            timeout=timeout,
            what=f"{count} settled run(s) of flow {flow['name']}",
        )


def test_given_a_chirpstack_v4_uplink_on_the_function_url_then_function_integration_and_every_history(http, cloud):
    user = User(http)
    with ScriptedSink() as sink:
        integration = user.integration(sink.url)
        flow = user.two_step(integration)

        accepted = user.ingest(v4_up(user.eui, temperature=-18.0))
        [run] = user.settled(flow)

        assert accepted["status"] == "accepted" and accepted["flows_triggered"] == 1
        [request] = sink.requests
        assert request["body"]["data"]["temperatureF"] == pytest.approx(-0.4)
        assert request["headers"]["idempotency-key"].startswith(run["run_id"])
        assert run["status"] == "success"
        assert [(s["node_id"], s["status"]) for s in run["steps"]] == [
            ("$start", "success"),
            ("toF", "success"),
            ("out", "success"),
        ]
        device = user.get(f"/api/v1/devices/{user.device['id']}")
        assert device["status"] == "online" and device["last_seen"] == accepted["received_at"]
        [uplink] = user.get(f"/api/v1/devices/{user.device['id']}/history")["items"]
        assert uplink["data"]["rssi"] == -84 and uplink["data"]["gateway_count"] == 2
        assert [c["status"] for c in user.get(f"/api/v1/integrations/{integration['id']}/history")["items"]] == [
            "success"
        ]
        assert [f["run_id"] for f in user.get(f"/api/v1/functions/{user.fn['id']}/history")["items"]] == [run["run_id"]]
    assert f"Function URL   {cloud.url}/lambda-url/IngestFunction/" in cloud.output()


def test_given_the_same_uplink_posted_three_times_then_it_is_processed_once(http):
    user = User(http)
    with ScriptedSink() as sink:
        flow = user.two_step(user.integration(sink.url))
        body = v4_up(user.eui)

        answers = [user.ingest(body, via=via) for via in (FUNCTION_URL, "/api/v1/ingest/chirpstack", FUNCTION_URL)]
        user.settled(flow)
        time.sleep(1.5)  # bounded: any second run would have started by now

        assert [a["status"] for a in answers] == ["accepted", "duplicate", "duplicate"]
        assert len(sink.requests) == 1 and len(user.runs(flow)) == 1
        assert len(user.get(f"/api/v1/devices/{user.device['id']}/history")["items"]) == 1


def test_given_a_sink_failing_its_first_two_calls_then_it_ends_delivered_exactly_once(http):
    user = User(http)
    with ScriptedSink(script=[500, 503]) as sink:
        integration = user.integration(sink.url, max_attempts=4, retry_backoff_seconds=1)
        flow = user.two_step(integration)

        user.ingest(v4_up(user.eui))
        [run] = user.settled(flow, timeout=40)

        assert [r["headers"]["idempotency-key"] for r in sink.requests] == [
            sink.requests[0]["headers"]["idempotency-key"]
        ] * 3
        assert run["status"] == "success"
        assert [(s["attempt"], s["status"]) for s in run["steps"] if s["node_id"] == "out"] == [
            (1, "error"),
            (2, "error"),
            (3, "success"),
        ]
        time.sleep(1)
        assert len(sink.requests) == 3  # 2 failures, then the one delivery: no more


def test_given_a_sink_that_always_fails_then_dead_letters_and_a_replay_after_it_recovers_delivers_once(http):
    user = User(http)
    with ScriptedSink(then=502) as sink:
        flow = user.two_step(user.integration(sink.url, max_attempts=2, retry_backoff_seconds=1))

        user.ingest(v4_up(user.eui))
        [failed] = user.settled(flow, timeout=40)
        [letter] = user.get(f"/api/v1/flows/{flow['id']}/dead-letters")["items"]

        assert failed["status"] == "error" and len(sink.requests) == 2
        assert letter["status"] == "pending" and "HTTP 502" in letter["last_error"] and letter["attempts"] == 2

        sink.status = 200
        replay = user.post(f"/api/v1/flows/{flow['id']}/dead-letters/replay", {"ids": [letter["id"]]}, status=202)
        runs = user.settled(flow, 2, timeout=30)

        assert replay["replayed"] == [letter["id"]]
        assert next(r for r in runs if r["run_id"] == replay["run_ids"][0])["status"] == "success"
        assert len(sink.requests) == 3 and sink.requests[-1]["body"]["data"]["temperatureF"] == 70.7
        assert user.get(f"/api/v1/flows/{flow['id']}/dead-letters?status=pending")["items"] == []


def test_given_a_delay_node_then_the_local_scheduler_fires_its_one_time_schedule(http, cloud):
    import boto3

    user = User(http)
    state = state_of(cloud.data_dir)
    scheduler = boto3.client(
        "scheduler",
        endpoint_url=state["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",
    )
    with ScriptedSink() as sink:
        flow = user.flow(
            [
                {"id": "wait", "type": "delay", "seconds": 3},
                {"id": "out", "type": "integration", "integration_id": user.integration(sink.url)["id"]},
            ],
            [("dev", "wait"), ("wait", "out")],
        )
        before = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
        posted = time.monotonic()

        user.ingest(v4_up(user.eui))
        scheduled = wait_for(
            lambda: {s["Name"] for s in scheduler.list_schedules()["Schedules"]} - before,
            timeout=15,
            what="the delay's schedule",
        )
        [run] = user.settled(flow, timeout=30)

        assert len(scheduled) == 1 and next(iter(scheduled)).startswith("fleetgate-local-")
        assert time.monotonic() - posted >= 3 and len(sink.requests) == 1
        assert run["status"] == "success" and run["steps"][1]["output"] == {"delay_seconds": 3}
        assert not scheduled & {s["Name"] for s in scheduler.list_schedules()["Schedules"]}  # deleted once fired


def test_given_chirpstack_v3_and_helium_bodies_then_they_reach_the_same_flows_as_v4(http):
    user = User(http)
    with ScriptedSink() as sink:
        flow = user.two_step(user.integration(sink.url))

        formats = [
            user.ingest(body)["format"]
            for body in (
                v4_up(user.eui, temperature=10.0),
                v3_up(user.eui, temperature=20.0),
                helium_up(user.eui, temperature=30.0),
            )
        ]
        runs = user.settled(flow, 3)

        assert formats == ["chirpstack_v4", "chirpstack_v3", "helium"]
        assert sorted(r["body"]["data"]["temperatureF"] for r in sink.requests) == [50.0, 68.0, 86.0]
        assert sorted(r["body"]["format"] for r in sink.requests) == sorted(formats)
        assert {r["status"] for r in runs} == {"success"}


def test_given_a_protobuf_body_or_a_wrong_key_on_the_function_url_then_415_and_401(http):
    user = User(http)

    protobuf = http.post(
        FUNCTION_URL,
        params={"event": "up"},
        content=b"\x0a\x24\x00\x01\x02\x03",
        headers={"content-type": "application/octet-stream", "x-api-key": user.key},
    )
    wrong = http.post(
        FUNCTION_URL, params={"event": "up"}, json=v4_up(user.eui), headers={"x-api-key": user.key[:-3] + "abc"}
    )

    assert protobuf.status_code == 415 and "JSON" in protobuf.json()["detail"]
    assert wrong.status_code == 401


def test_given_no_running_cloud_when_invoking_the_ingest_sample_event_then_202(tmp_path):
    result = run_cli("invoke", "IngestFunction", "events/ingest-chirpstack-up.json", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["statusCode"] == 202
    assert json.loads(reply["body"])["status"] == "ignored"  # a fresh cloud has no such device
