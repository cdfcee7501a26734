"""The flow engine, handler level: ingest → SQS (moto) → the flow worker through the local cloud's SQS poller (real
SQS events, partial batch responses, visibility timeouts), EventBridge Scheduler for long delays, histories."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.flow_support import (
    ScriptedSink,
    dead_letter_messages,
    later,
    poller,
    queue_depth,
    queue_url,
    run_worker,
    v4_up,
)
from tests.support import new_eui

INGEST = "/api/v1/ingest/chirpstack"
TO_FAHRENHEIT = "function process(m) { m.data.temperatureF = m.data.temperature * 9 / 5 + 32; return m; }"


@pytest.fixture
def w(api):
    user = api.register()
    t = user["token"]
    eui = new_eui()
    device = api.call("POST", "/api/v1/devices", token=t, json_body={"dev_eui": eui, "name": "freezer"}).body
    key = api.call("POST", "/api/v1/ingest/keys", token=t, json_body={"name": "cs"}).body["key"]
    fn = api.call("POST", "/api/v1/functions", token=t, json_body={"name": "to F", "code": TO_FAHRENHEIT}).body
    return {"api": api, "t": t, "eui": eui, "device": device, "key": key, "fn": fn}


def _function(w, name: str, code: str) -> dict:
    reply = w["api"].call("POST", "/api/v1/functions", token=w["t"], json_body={"name": name, "code": code})
    assert reply.status == 201, reply.body
    return reply.body


def _integration(w, url: str, **config) -> dict:
    reply = w["api"].call(
        "POST",
        "/api/v1/integrations",
        token=w["t"],
        json_body={
            "name": f"sink {uuid.uuid4().hex[:6]}",
            "type": "http",
            "config": {"url": url, "timeout_seconds": 2, **config},
        },
    )
    assert reply.status == 201, reply.body
    return reply.body


def _flow(w, nodes: list[dict], edges: list[tuple], **extra) -> dict:
    body = {
        "name": f"flow {uuid.uuid4().hex[:6]}",
        **extra,
        "nodes": [{"id": "dev", "type": "device", "device_id": w["device"]["id"]}, *nodes],
        "edges": [dict(zip(("source", "target", "branch"), e, strict=False)) for e in edges],
    }
    reply = w["api"].call("POST", "/api/v1/flows", token=w["t"], json_body=body)
    assert reply.status == 201, reply.body
    return reply.body


def _two_step(w, integration: dict) -> dict:
    """device → function (to Fahrenheit) → HTTP integration."""
    return _flow(
        w,
        [
            {"id": "toF", "type": "function", "function_id": w["fn"]["id"]},
            {"id": "out", "type": "integration", "integration_id": integration["id"]},
        ],
        [("dev", "toF"), ("toF", "out")],
    )


def _uplink(w, **kwargs) -> dict:
    reply = w["api"].call(
        "POST", INGEST, json_body=v4_up(w["eui"], **kwargs), query={"event": "up"}, headers={"x-api-key": w["key"]}
    )
    assert reply.status == 202 and reply.body["status"] == "accepted", reply.body
    return reply.body


def _runs(w, flow: dict) -> list[dict]:
    reply = w["api"].call("GET", f"/api/v1/flows/{flow['id']}/history", token=w["t"])
    assert reply.status == 200, reply.body
    return reply.body["items"]


def _settled(w, flow: dict, count: int = 1):
    return lambda: len(_runs(w, flow)) >= count


def _integration_history(w, integration: dict) -> list[dict]:
    return w["api"].call("GET", f"/api/v1/integrations/{integration['id']}/history", token=w["t"]).body["items"]


def _receive_all() -> list[dict]:
    """Take every visible message off the steps queue (to re-send them by hand)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(m)
            sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])


def _send(bodies: list[str]) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url(), MessageBody=body)


def _visibility(seconds: int) -> None:
    boto3.client("sqs", region_name="us-east-1").set_queue_attributes(
        QueueUrl=queue_url(), Attributes={"VisibilityTimeout": str(seconds)}
    )


# ------------------------------------------------------------------ the happy path
def test_given_a_two_step_flow_when_an_uplink_arrives_then_function_then_integration_and_the_run_succeeds(w):
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flow = _two_step(w, integration)

        up = _uplink(w, temperature=-18.0)
        run_worker(w["api"])

        [request] = sink.requests
        assert request["body"]["data"] == {
            "temperature": -18.0,
            "humidity": 48,
            "battery": 92,
            "temperatureF": -0.3999999999999986,
        }
        assert request["body"]["device_id"] == w["device"]["id"] and request["body"]["history_id"] == up["history_id"]
        [run] = _runs(w, flow)
        assert request["headers"]["idempotency-key"].startswith(f"{run['run_id']}:out:")
        assert run["status"] == "success" and run["error"] is None
        assert run["trigger"]["event"] == "up" and run["trigger"]["device_id"] == w["device"]["id"]
        assert [(s["node_id"], s["type"], s["status"]) for s in run["steps"]] == [
            ("$start", "trigger", "success"),
            ("toF", "function", "success"),
            ("out", "integration", "success"),
        ]
        function_step, integration_step = run["steps"][1], run["steps"][2]
        assert function_step["input"]["data"]["temperature"] == -18.0
        assert function_step["output"]["data"]["temperatureF"] == pytest.approx(-0.4)
        assert integration_step["output"]["status_code"] == 200 and integration_step["duration_ms"] > 0
        assert all(s["started_at"].endswith("Z") for s in run["steps"])
        detail = w["api"].call("GET", f"/api/v1/flows/{flow['id']}/history/{run['id']}", token=w["t"]).body
        assert detail["steps"] == run["steps"]
        [fn_run] = w["api"].call("GET", f"/api/v1/functions/{w['fn']['id']}/history", token=w["t"]).body["items"]
        assert (fn_run["run_id"], fn_run["flow_id"], fn_run["status"]) == (run["run_id"], flow["id"], "success")
        [call] = _integration_history(w, integration)
        assert (call["run_id"], call["status"]) == (run["run_id"], "success")
        assert call["request"]["headers"]["Idempotency-Key"] == request["headers"]["idempotency-key"]
        # the calls are kept with the run's record: each still has its id, detail route and place in the lists
        assert fn_run["id"] == function_step["function_history_id"] and fn_run["input"] == function_step["input"]
        assert call["id"] == integration_step["integration_history_id"]
        assert fn_run["output"] == function_step["output"] and fn_run["flow_id"] == flow["id"]
        assert json.loads(call["request"]["body"]) == request["body"]  # what was sent, kept once with the trace
        path = f"/api/v1/integrations/{integration['id']}/history/{call['id']}"
        assert w["api"].call("GET", path, token=w["t"]).body == call
        assert w["api"].call("GET", path + "0", token=w["t"]).status == 404
        mine = w["api"].call("GET", "/api/v1/functions/history", token=w["t"]).body["items"]
        assert [r["id"] for r in mine] == [fn_run["id"]]
        mine = w["api"].call("GET", "/api/v1/integrations/history", token=w["t"]).body["items"]
        assert [r["id"] for r in mine] == [call["id"]]


def test_given_runs_calling_a_function_twice_when_its_history_is_paged_then_every_call_is_shown_once_newest_first(w):
    fn = w["fn"]["id"]
    flow = _flow(
        w,
        [{"id": "a", "type": "function", "function_id": fn}, {"id": "b", "type": "function", "function_id": fn}],
        [("dev", "a"), ("a", "b")],
    )
    for n in range(2):
        _uplink(w, temperature=float(n))
        run_worker(w["api"])
    runs = _runs(w, flow)
    assert [r["status"] for r in runs] == ["success", "success"]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = w["api"].call("GET", f"/api/v1/functions/{fn}/history", token=w["t"], query=query).body
        assert len(page["items"]) <= 3
        seen += page["items"]
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert pages == 2 and len(seen) == 4 and len({r["id"] for r in seen}) == 4
    # newest run first; within a run, its later call first
    assert [(r["run_id"], "temperatureF" in r["input"]["data"]) for r in seen] == [
        (runs[0]["run_id"], True),
        (runs[0]["run_id"], False),
        (runs[1]["run_id"], True),
        (runs[1]["run_id"], False),
    ]


class FailingSqs:
    """SQS refusing the first ``times`` SendMessageBatch calls of the engine's client (throttled, or down)."""

    def __init__(self, times: int):
        self.times, self.calls = times, 0

    def __enter__(self):
        from fleetgate.engine import queues

        self.events = queues.sqs().meta.events
        self.events.register("before-call.sqs.SendMessageBatch", self)
        return self

    def __exit__(self, *_: object) -> None:
        self.events.unregister("before-call.sqs.SendMessageBatch", self)

    def __call__(self, **_) -> None:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.times:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "SQS is down"}}, "SendMessageBatch")


def test_given_sqs_failing_when_an_uplink_is_ingested_then_its_flow_still_runs_exactly_once(w):
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flow = _two_step(w, integration)
        body = v4_up(w["eui"])

        with FailingSqs(times=2) as sqs:
            reply = w["api"].call(
                "POST", INGEST, json_body=body, query={"event": "up"}, headers={"x-api-key": w["key"]}
            )
            again = w["api"].call(  # the same uplink resent meanwhile: a duplicate, it starts nothing
                "POST", INGEST, json_body=body, query={"event": "up"}, headers={"x-api-key": w["key"]}
            )

        # accepted at once: its flow starts were written with its claim; the stream retried sending them
        assert reply.status == 202 and reply.body["status"] == "accepted" and reply.body["flows_triggered"] == 1
        assert again.body["status"] == "duplicate" and sqs.calls == 3
        run_worker(w["api"])
        [run] = _runs(w, flow)
        assert run["status"] == "success" and len(sink.requests) == 1
        assert len({r["headers"]["idempotency-key"] for r in sink.requests}) == 1


def _drain_recording(w) -> list[str]:
    """Run the worker on every visible step until none is left (no delays in these flows); the bodies handled."""
    from localcloud.sqs import sqs_event

    feed, bodies = poller(w["api"]), []
    for _ in range(50):
        messages = _receive_all()
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]
        result = w["api"].functions.invoke(
            "FlowWorkerFunction", sqs_event(messages, feed.source.queue_arn, "us-east-1")
        )
        assert result == {"batchItemFailures": []}
    raise AssertionError("the run did not end")


def test_given_the_message_redelivered_after_the_run_finished_then_nothing_runs_again(w):
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flow = _two_step(w, integration)
        _uplink(w)
        bodies = _drain_recording(w)
        # the whole run in one message: start, function and integration in one invocation
        assert [json.loads(b)["node_id"] for b in bodies] == ["$start"] and len(sink.requests) == 1

        _send(bodies * 2)  # SQS delivers it again, twice
        handled = _drain_recording(w)

        assert len(handled) == 2
        assert len(sink.requests) == 1
        assert len(_runs(w, flow)) == 1 and _runs(w, flow)[0]["status"] == "success"
        assert len(_integration_history(w, integration)) == 1


def test_given_the_same_start_step_twice_then_one_run(w):
    with ScriptedSink() as sink:
        flow = _two_step(w, _integration(w, sink.url))
        _uplink(w)
        bodies = [m["Body"] for m in _receive_all()]

        _send(bodies * 2)
        run_worker(w["api"])

        assert len(sink.requests) == 1 and len(_runs(w, flow)) == 1


# ------------------------------------------------------------------ retries and dead letters
def test_given_a_sink_that_fails_twice_then_retries_with_backoff_deliver_it_exactly_once(w):
    with ScriptedSink(script=[503, 500]) as sink:
        integration = _integration(w, sink.url, max_attempts=5, retry_backoff_seconds=1)
        flow = _two_step(w, integration)
        started = time.monotonic()

        _uplink(w)
        run_worker(w["api"], until=_settled(w, flow), timeout=30)

        assert [r["body"]["data"]["temperatureF"] for r in sink.requests] == [70.7] * 3
        assert len({r["headers"]["idempotency-key"] for r in sink.requests}) == 1  # one delivery, three attempts
        assert time.monotonic() - started >= 3  # backoff: 1 s, then 2 s
        [run] = _runs(w, flow)
        assert run["status"] == "success"
        attempts = [
            (s["attempt"], s["status"], s.get("retry_in_seconds")) for s in run["steps"] if s["node_id"] == "out"
        ]
        assert attempts == [(1, "error", 1), (2, "error", 2), (3, "success", None)]
        assert "HTTP 503" in run["steps"][2]["error"]
        assert sorted(c["status"] for c in _integration_history(w, integration)) == ["error", "error", "success"]
        assert w["api"].call("GET", f"/api/v1/flows/{flow['id']}/dead-letters", token=w["t"]).body["items"] == []


def test_given_a_sink_that_always_fails_then_dead_letter_and_a_replay_after_it_recovers_delivers_once(w):
    with ScriptedSink(then=500) as sink:
        integration = _integration(w, sink.url, max_attempts=2, retry_backoff_seconds=1)
        flow = _two_step(w, integration)

        _uplink(w)
        run_worker(w["api"], until=_settled(w, flow), timeout=30)

        [run] = _runs(w, flow)
        assert run["status"] == "error" and "HTTP 500" in run["error"]
        assert len(sink.requests) == 2
        letters = w["api"].call("GET", f"/api/v1/flows/{flow['id']}/dead-letters", token=w["t"])
        assert letters.status == 200
        [letter] = letters.body["items"]
        assert (letter["node_id"], letter["node_type"], letter["attempts"], letter["status"]) == (
            "out",
            "integration",
            2,
            "pending",
        )
        assert "HTTP 500" in letter["last_error"] and letter["run_id"] == run["run_id"]
        assert letter["message"]["data"]["temperatureF"] == 70.7  # what the step was to deliver
        [queued] = dead_letter_messages()
        assert queued["dead_letter"]["id"] == letter["id"]

        sink.status = 200  # the sink recovers
        replay = w["api"].call("POST", f"/api/v1/flows/{flow['id']}/dead-letters/replay", token=w["t"], json_body={})
        run_worker(w["api"], until=_settled(w, flow, 2), timeout=30)

        assert replay.status == 202 and replay.body["replayed"] == [letter["id"]] and replay.body["more"] is False
        assert len(sink.requests) == 3
        assert sink.requests[-1]["body"]["data"]["temperatureF"] == 70.7
        replayed = next(r for r in _runs(w, flow) if r["run_id"] == replay.body["run_ids"][0])
        assert replayed["status"] == "success" and replayed["trigger"]["replay_of"] == letter["id"]
        assert [s["node_id"] for s in replayed["steps"]] == ["out"]
        after = w["api"].call("GET", f"/api/v1/flows/{flow['id']}/dead-letters", token=w["t"]).body["items"]
        assert [(d["status"], d["replay_run_id"]) for d in after] == [("replayed", replayed["run_id"])]
        again = w["api"].call(
            "POST",
            f"/api/v1/flows/{flow['id']}/dead-letters/replay",
            token=w["t"],
            json_body={"ids": [letter["id"], "nope"]},
        )
        assert again.body["replayed"] == [] and {s["id"] for s in again.body["skipped"]} == {letter["id"], "nope"}
        run_worker(w["api"])
        assert len(sink.requests) == 3


def test_given_dead_letters_of_someone_elses_flow_then_404(w):
    flow = _flow(w, [], [])
    bob = w["api"].register()

    assert w["api"].call("GET", f"/api/v1/flows/{flow['id']}/dead-letters", token=bob["token"]).status == 404
    assert w["api"].call("POST", f"/api/v1/flows/{flow['id']}/dead-letters/replay", token=bob["token"]).status == 404


def test_given_two_branches_where_one_fails_then_partial_success_and_when_both_fail_error(w, monkeypatch):
    with ScriptedSink() as good, ScriptedSink(then=500) as bad:
        ok = _integration(w, good.url)
        failing = _integration(w, bad.url, max_attempts=1)
        mixed = _flow(
            w,
            [
                {"id": "a", "type": "integration", "integration_id": ok["id"]},
                {"id": "b", "type": "integration", "integration_id": failing["id"]},
            ],
            [("dev", "a"), ("dev", "b")],
        )

        _uplink(w)
        run_worker(w["api"], until=_settled(w, mixed), timeout=20)
        w["api"].call("PUT", f"/api/v1/flows/{mixed['id']}", token=w["t"], json_body={"enabled": False})
        both = _flow(
            w,
            [
                {"id": "b1", "type": "integration", "integration_id": failing["id"]},
                {"id": "b2", "type": "integration", "integration_id": failing["id"]},
            ],
            [("dev", "b1"), ("dev", "b2")],
        )
        later(monkeypatch)  # the device's flow triggers, as ingest remembered them, have expired
        _uplink(w)
        run_worker(w["api"], until=_settled(w, both), timeout=20)

        assert _runs(w, mixed)[0]["status"] == "partial_success"
        assert "1 of 2 paths failed" in _runs(w, mixed)[0]["error"]
        assert _runs(w, both)[0]["status"] == "error"


# ------------------------------------------------------------------ failures inside the worker
def test_given_a_worker_that_raises_in_the_middle_of_a_batch_then_no_step_is_lost(w, monkeypatch):
    from fleetgate.engine import nodes

    _visibility(1)
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flows = [
            _flow(w, [{"id": "out", "type": "integration", "integration_id": integration["id"]}], [("dev", "out")])
            for _ in range(3)
        ]
        _uplink(w)
        feed = poller(w["api"])
        real, crashed = nodes.execute, []

        def flaky(run, step, message):
            if run.flow_id == flows[1]["id"] and not crashed:
                crashed.append(step.key)
                raise ConnectionError("the worker lost its connection in the middle of the batch")
            return real(run, step, message)

        monkeypatch.setattr(nodes, "execute", flaky)
        messages = boto3.client("sqs", region_name="us-east-1").receive_message(
            QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        )
        from localcloud.sqs import sqs_event

        event = sqs_event(messages["Messages"], feed.source.queue_arn, "us-east-1")
        result = w["api"].functions.invoke("FlowWorkerFunction", event)

        failed_ids = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        assert len(event["Records"]) == 3 and len(failed_ids) == 1 and crashed
        failed_body = json.loads(next(r["body"] for r in event["Records"] if r["messageId"] == failed_ids[0]))
        assert failed_body["flow_id"] == flows[1]["id"]
        done = [r for r in event["Records"] if r["messageId"] not in failed_ids]
        boto3.client("sqs", region_name="us-east-1").delete_message_batch(
            QueueUrl=queue_url(),
            Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
        )  # as Lambda does

        run_worker(w["api"], until=lambda: all(_runs(w, f) for f in flows), timeout=20)

        assert len(sink.requests) == 3
        assert [_runs(w, f)[0]["status"] for f in flows] == ["success"] * 3


def test_given_a_step_that_keeps_crashing_when_it_is_received_for_the_last_time_then_it_is_dead_lettered(
    w, monkeypatch
):
    from fleetgate.engine import nodes, service

    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [{"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]}],
            [("dev", "out")],
        )
        _uplink(w)
        [message] = _receive_all()
        monkeypatch.setattr(nodes, "execute", lambda *a: (_ for _ in ()).throw(RuntimeError("poison")))
        received = service.Received(message["MessageId"], message["Body"], 1)

        assert service.handle_batch([received]) == [message["MessageId"]]  # redelivered
        received.receive_count = 5  # the queue's maxReceiveCount
        assert service.handle_batch([received]) == []

        assert sink.requests == []
        [run] = _runs(w, flow)
        assert run["status"] == "error" and "failed on this node on every receive" in run["error"]
        [letter] = w["api"].call("GET", f"/api/v1/flows/{flow['id']}/dead-letters", token=w["t"]).body["items"]
        assert letter["node_id"] == "$start" and "poison" in letter["last_error"]


def test_given_malformed_messages_and_steps_of_unknown_runs_then_they_are_dropped_without_failing_the_batch(w):
    feed = poller(w["api"])
    stranger = {"v": 1, "flow_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4()), "node_id": "x", "message": {}}
    _send(["not json at all", json.dumps({"v": 99}), json.dumps(stranger)])

    feed.poll_once()

    assert queue_depth() == 0


# ------------------------------------------------------------------ node types
def test_given_a_switch_then_only_its_branch_runs_and_storage_keeps_the_point(w):
    storage = w["api"].call("POST", "/api/v1/storages", token=w["t"], json_body={"name": "temps"}).body
    with ScriptedSink() as hot, ScriptedSink() as cold:
        flow = _flow(
            w,
            [
                {"id": "warm", "type": "switch", "field": "data.temperature", "operator": ">", "value": 10},
                {"id": "alert", "type": "integration", "integration_id": _integration(w, hot.url)["id"]},
                {"id": "log", "type": "integration", "integration_id": _integration(w, cold.url)["id"]},
                {"id": "keep", "type": "storage", "storage_id": storage["id"]},
            ],
            [("dev", "warm"), ("warm", "alert", "true"), ("warm", "log", "false"), ("dev", "keep")],
        )

        _uplink(w, temperature=25.0)
        _uplink(w, temperature=-5.0)
        run_worker(w["api"], until=_settled(w, flow, 2), timeout=20)

        assert [r["body"]["data"]["temperature"] for r in hot.requests] == [25.0]
        assert [r["body"]["data"]["temperature"] for r in cold.requests] == [-5.0]
    points = w["api"].call("GET", f"/api/v1/storages/{storage['id']}/data", token=w["t"]).body["items"]
    assert sorted(p["data"]["temperature"] for p in points) == [-5.0, 25.0]
    assert {p["device_id"] for p in points} == {w["device"]["id"]}
    assert [r["status"] for r in _runs(w, flow)] == ["success", "success"]


def test_given_two_paths_into_one_node_then_it_runs_once_per_path_and_the_run_settles(w):
    other = _function(w, "tag", "function process(m) { m.data.tag = 'b'; return m; }")
    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [
                {"id": "a", "type": "function", "function_id": w["fn"]["id"]},
                {"id": "b", "type": "function", "function_id": other["id"]},
                {"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]},
            ],
            [("dev", "a"), ("dev", "b"), ("a", "out"), ("b", "out")],
        )

        _uplink(w)
        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        assert sorted("temperatureF" in r["body"]["data"] for r in sink.requests) == [False, True]
        assert len({r["headers"]["idempotency-key"] for r in sink.requests}) == 2
        assert _runs(w, flow)[0]["status"] == "success"


def test_given_a_function_that_throws_then_the_path_fails_without_retry(w):
    broken = _function(w, "broken", "function process(m) {\n  return m.data.missing.value;\n}")
    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [
                {"id": "f", "type": "function", "function_id": broken["id"]},
                {"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]},
            ],
            [("dev", "f"), ("f", "out")],
        )

        _uplink(w)
        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        [run] = _runs(w, flow)
        assert run["status"] == "error" and "TypeError" in run["error"] and "line 2" in run["error"]
        assert sink.requests == [] and [s["node_id"] for s in run["steps"]] == ["$start", "f"]


def test_given_a_short_delay_node_then_the_next_step_waits_in_sqs(w):
    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [
                {"id": "wait", "type": "delay", "seconds": 2},
                {"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]},
            ],
            [("dev", "wait"), ("wait", "out")],
        )
        _uplink(w)
        started = time.monotonic()

        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        assert time.monotonic() - started >= 2 and len(sink.requests) == 1
        assert _runs(w, flow)[0]["steps"][1]["output"] == {"delay_seconds": 2}


def test_given_a_delay_beyond_15_minutes_then_an_eventbridge_schedule_sends_the_step_when_due(w):
    from localcloud.scheduler import Scheduler
    from tests.support import STACK

    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [
                {"id": "wait", "type": "delay", "seconds": 3600},
                {"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]},
            ],
            [("dev", "wait"), ("wait", "out")],
        )
        _uplink(w)
        run_worker(w["api"])  # start and delay steps; the next one is scheduled, not queued
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        [summary] = scheduler.list_schedules()["Schedules"]
        schedule = scheduler.get_schedule(Name=summary["Name"])
        due = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
        assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(minutes=60, seconds=2)
        assert schedule["Target"]["Arn"] == STACK.environment()["FLOW_STEPS_QUEUE_ARN"]
        # the run's state waits in the runs table; the schedule's input only says where
        assert json.loads(schedule["Target"]["Input"])["parked"]["key"].startswith("wait#")
        assert sink.requests == [] and queue_depth() == 0
        local = Scheduler(
            STACK, w["api"].functions.invoke, scheduler=scheduler, sqs=boto3.client("sqs", region_name="us-east-1")
        )

        assert [n for n in local.tick(due - timedelta(seconds=1)) if n.startswith("default/")] == []
        assert [n for n in local.tick(due) if n.startswith("default/")] == [f"default/{summary['Name']}"]
        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        assert len(sink.requests) == 1 and sink.requests[0]["body"]["data"]["temperature"] == 21.5
        assert _runs(w, flow)[0]["status"] == "success"
        assert scheduler.list_schedules()["Schedules"] == []  # one-time: deleted after it fired


# ------------------------------------------------------------------ runs and flows
def test_given_a_flow_disabled_after_the_uplink_then_no_run_starts(w):
    with ScriptedSink() as sink:
        flow = _two_step(w, _integration(w, sink.url))
        _uplink(w)

        w["api"].call("PUT", f"/api/v1/flows/{flow['id']}", token=w["t"], json_body={"enabled": False})
        run_worker(w["api"])

        assert sink.requests == [] and _runs(w, flow) == []


def test_given_a_flow_edited_while_uplinks_arrive_then_started_runs_keep_their_version_and_new_runs_use_the_new(w):
    with ScriptedSink() as first, ScriptedSink() as second:
        one, two = _integration(w, first.url), _integration(w, second.url)
        flow = _flow(
            w,
            [
                {"id": "wait", "type": "delay", "seconds": 1},
                {"id": "out", "type": "integration", "integration_id": one["id"]},
            ],
            [("dev", "wait"), ("wait", "out")],
        )
        _uplink(w)
        feed = poller(w["api"])
        feed.poll_once()  # the run starts on this version and waits in its delay

        edited = (
            w["api"]
            .call(
                "PUT",
                f"/api/v1/flows/{flow['id']}",
                token=w["t"],
                json_body={
                    "nodes": [
                        {"id": "dev", "type": "device", "device_id": w["device"]["id"]},
                        {"id": "out", "type": "integration", "integration_id": two["id"]},
                    ],
                    "edges": [{"source": "dev", "target": "out"}],
                },
            )
            .body
        )
        _uplink(w)  # a new run: the new version
        run_worker(w["api"], until=_settled(w, flow, 2), timeout=20)

        assert len(first.requests) == 1 and len(second.requests) == 1
        versions = sorted(r["trigger"]["flow_version"] for r in _runs(w, flow))
        assert versions == sorted([flow["updated_at"], edited["updated_at"]]) and versions[0] != versions[1]


def _crash_once(monkeypatch, module, name: str, when=lambda *a, **k: True) -> list[str]:
    """``module.name`` raises the first time ``when(...)`` holds (a worker dying there); returns the crashes."""
    real, crashes = getattr(module, name), []

    def crashing(*args, **kwargs):
        if not crashes and when(*args, **kwargs):
            crashes.append(name)
            raise ConnectionError(f"the worker died in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, crashing)
    return crashes


def test_given_a_worker_crash_after_the_integration_call_before_the_run_record_then_one_run_and_one_delivery(
    w, monkeypatch
):
    from fleetgate.history import service as history

    _visibility(1)
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flow = _two_step(w, integration)
        crashes = _crash_once(monkeypatch, history, "write")
        _uplink(w)

        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        assert crashes == ["write"]
        # delivered again on the re-run, with the same key: the receiver drops the copy
        assert len(sink.requests) == 2 and len({r["headers"]["idempotency-key"] for r in sink.requests}) == 1
        [run] = _runs(w, flow)
        assert run["status"] == "success"
        assert len(_integration_history(w, integration)) == 1
        fn_runs = w["api"].call("GET", f"/api/v1/functions/{w['fn']['id']}/history", token=w["t"]).body["items"]
        assert len(fn_runs) == 1


def test_given_a_worker_crash_between_two_nodes_then_the_run_goes_on_to_one_record_and_one_delivery(w, monkeypatch):
    from fleetgate.engine import nodes

    _visibility(1)
    storage = w["api"].call("POST", "/api/v1/storages", token=w["t"], json_body={"name": "kept"}).body
    with ScriptedSink() as sink:
        integration = _integration(w, sink.url)
        flow = _flow(
            w,
            [
                {"id": "keep", "type": "storage", "storage_id": storage["id"]},
                {"id": "toF", "type": "function", "function_id": w["fn"]["id"]},
                {"id": "out", "type": "integration", "integration_id": integration["id"]},
            ],
            [("dev", "keep"), ("keep", "toF"), ("toF", "out")],
        )
        crashes = _crash_once(monkeypatch, nodes, "execute", lambda run, step, message: step.node_id == "out")
        _uplink(w)

        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        assert crashes == ["execute"]
        assert len(sink.requests) == 1
        [run] = _runs(w, flow)
        assert run["status"] == "success" and [s["node_id"] for s in run["steps"]] == ["$start", "keep", "toF", "out"]
        points = w["api"].call("GET", f"/api/v1/storages/{storage['id']}/data", token=w["t"]).body["items"]
        assert len(points) == 1  # the storage node ran twice: the same point
        fn_runs = w["api"].call("GET", f"/api/v1/functions/{w['fn']['id']}/history", token=w["t"]).body["items"]
        assert len(fn_runs) == 1


def test_given_a_run_whose_state_outgrows_an_sqs_message_when_it_waits_then_the_state_waits_in_the_runs_table(w):
    big = _function(w, "big", "function process(m) { m.data.blob = 'x'.repeat(90000); return m; }")
    waits = ["wait_a", "wait_b", "wait_c"]  # three messages of 90 KB wait at once: more than one SQS message holds
    with ScriptedSink() as sink:
        flow = _flow(
            w,
            [
                {"id": "big", "type": "function", "function_id": big["id"]},
                *({"id": n, "type": "delay", "seconds": 1} for n in waits),
                {"id": "out", "type": "integration", "integration_id": _integration(w, sink.url)["id"]},
            ],
            [("dev", "big"), *(("big", n) for n in waits), *((n, "out") for n in waits)],
        )
        _uplink(w)

        run_worker(w["api"], until=_settled(w, flow), timeout=20)

        [run] = _runs(w, flow)
        assert run["status"] == "success", run
        assert [len(r["body"]["data"]["blob"]) for r in sink.requests] == [90000] * 3
