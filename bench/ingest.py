"""Ingest and the flow engine, as ratios of floors measured in the same run (loopback only, bounded).

1. Ingest acknowledgement, in-process: POST /api/v1/ingest/chirpstack (a ChirpStack v4 uplink of a device with a
   label and 3 matching flows) through Functions.http on moto's mock_aws, p50/p99, against the p50 of a bare
   GetItem through the same mock.
2. The flow worker's CPU time per uplink for a two-step flow (function, then an HTTP integration to a sink on
   127.0.0.1): the worker handler invoked in this process with the real SQS events of every step of the uplink's
   run; CPU is this thread's (time.thread_time), so moto (a server subprocess) and the sink (another thread) are
   not counted. Floor: the CPU of one GetItem through botocore plus one POST to the same sink through httpx,
   the least I/O a step does.
3. The local cloud end to end: ``python -m localcloud serve`` as a subprocess; N uplinks posted over HTTP to the
   ingest Function URL, timed until the sink has all N deliveries (function then integration, through the cloud's
   SQS poller): uplinks per second. Floor: sequential GET /api/v1/devices/{id} per second on the same cloud (one
   authenticated request and one GetItem each).

Usage: .venv/bin/python bench/ingest.py [--requests 300] [--uplinks 40] [--cloud-uplinks 60] [--max-seconds 240]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from _benchlib import (
    REGION,
    ROOT,
    STATE,
    Client,
    Sink,
    median,
    new_eui,
    percentile,
    quiet_stdout,
    register_user,
    set_process_env,
    table,
)

from localcloud.template import stack as load_stack

STACK = load_stack()
set_process_env(STACK, endpoint=None)
os.environ["OUTBOUND_ALLOW"] = "loopback"  # the integration's sink is on 127.0.0.1

TO_FAHRENHEIT = "function process(m) { m.data.temperatureF = m.data.temperature * 9 / 5 + 32; return m; }"
INGEST = "/api/v1/ingest/chirpstack"


# ------------------------------------------------------------------ shared pieces
def uplink(eui: str, f_cnt: int) -> dict[str, Any]:
    """A ChirpStack v4 ``up`` event (unique deduplicationId: every one is processed)."""
    return {
        "deduplicationId": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),  # ChirpStack stamps the reception: about now
        "deviceInfo": {
            "tenantName": "ChirpStack",
            "applicationName": "bench",
            "deviceProfileName": "EM300-TH",
            "deviceName": "bench",
            "devEui": eui,
            "tags": {},
        },
        "devAddr": "01fa2b3c",
        "adr": True,
        "dr": 5,
        "fCnt": f_cnt,
        "fPort": 85,
        "data": "AXVcA2c0AQ==",
        "object": {"temperature": 21.5, "humidity": 48},
        "rxInfo": [
            {"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 7.5},
            {"gatewayId": "0016c001f153b22d", "rssi": -84, "snr": 9.25},
        ],
        "txInfo": {"frequency": 868300000},
    }


def setup_world(client: Client, sink_url: str, *, flows: int) -> dict[str, Any]:
    """A user with an ingest key, a labelled device, a function, an HTTP integration and ``flows`` flows
    (the first: device → function → integration; the others: label → integration)."""
    user = register_user(client)
    t = user["token"]
    key = client.ok("POST", "/api/v1/ingest/keys", 201, token=t, json_body={"name": "bench"})["key"]
    eui = new_eui()
    device = client.ok("POST", "/api/v1/devices", 201, token=t, json_body={"dev_eui": eui, "name": "bench"})
    label = client.ok("POST", "/api/v1/labels", 201, token=t, json_body={"name": f"bench-{uuid.uuid4().hex[:6]}"})
    client.ok("POST", f"/api/v1/labels/{label['id']}/devices/{device['id']}", 201, token=t)
    fn = client.ok("POST", "/api/v1/functions", 201, token=t, json_body={"name": "to F", "code": TO_FAHRENHEIT})
    integration = client.ok(
        "POST",
        "/api/v1/integrations",
        201,
        token=t,
        json_body={"name": "sink", "type": "http", "config": {"url": sink_url, "timeout_seconds": 5}},
    )
    client.ok(
        "POST",
        "/api/v1/flows",
        201,
        token=t,
        json_body={
            "name": "two step",
            "nodes": [
                {"id": "d", "type": "device", "device_id": device["id"]},
                {"id": "f", "type": "function", "function_id": fn["id"], "version": 1},
                {"id": "i", "type": "integration", "integration_id": integration["id"]},
            ],
            "edges": [{"source": "d", "target": "f"}, {"source": "f", "target": "i"}],
        },
    )
    for n in range(flows - 1):
        client.ok(
            "POST",
            "/api/v1/flows",
            201,
            token=t,
            json_body={
                "name": f"label {n}",
                "nodes": [
                    {"id": "l", "type": "label", "label_id": label["id"]},
                    {"id": "i", "type": "integration", "integration_id": integration["id"]},
                ],
                "edges": [{"source": "l", "target": "i"}],
            },
        )
    return {"user": user, "key": key, "eui": eui, "device": device}


def ingest_headers(key: str) -> dict[str, str]:
    return {"content-type": "application/json", "x-api-key": key, "user-agent": "ChirpStack"}


# ------------------------------------------------------------------ 1. ingest acknowledgement, in-process
def bench_ack(requests: int, seconds: float) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from fleetgate.core import settings

    with mock_aws():
        settings.reset()
        ddb = boto3.client("dynamodb", region_name=REGION)
        STACK.create_tables(ddb)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = STACK.create_queues(sqs)["FlowStepsQueue"]
        client = Client(STACK)
        sink = Sink()
        try:
            world = setup_world(client, sink.url, flows=3)
            key = {"TableName": STACK.physical_name("UsersTable"), "Key": {"id": {"S": world["user"]["id"]}}}
            floor, acks, statuses = [], [], set()
            started = time.monotonic()
            for i in range(-5, requests):
                if i >= 0 and time.monotonic() - started > seconds:
                    break
                t0 = time.perf_counter()
                ddb.get_item(**key)
                floor_ms = (time.perf_counter() - t0) * 1000
                body = json.dumps(uplink(world["eui"], i + 10))
                t0 = time.perf_counter()
                resp = client.functions.http("POST", f"{INGEST}?event=up", ingest_headers(world["key"]), body)
                ack_ms = (time.perf_counter() - t0) * 1000
                statuses.add((resp.status, resp.json().get("status"), resp.json().get("flows_triggered")))
                if i >= 0:
                    floor.append(floor_ms)
                    acks.append(ack_ms)
                drain(sqs, queue)  # untimed: the steps are not run here, and moto slows down as a queue grows
        finally:
            sink.close()
        settings.reset()
    if statuses != {(202, "accepted", 3)}:
        raise SystemExit(f"unexpected ingest answers: {statuses}")
    return {"floor": floor, "acks": acks}


def drain(sqs: Any, queue: str) -> None:
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return
        sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
        )


# ------------------------------------------------------------------ 2. flow worker CPU per uplink
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    import urllib.request

    port = free_port()
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    log = (STATE / "logs" / "ingest-moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).read()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def bench_worker(uplinks: int, seconds: float) -> dict[str, Any]:
    import boto3
    import botocore.session
    import httpx

    from fleetgate.core import settings
    from localcloud.sqs import sqs_event

    moto, endpoint = start_moto()
    sink = Sink()
    try:
        set_process_env(STACK, endpoint)
        os.environ["OUTBOUND_ALLOW"] = "loopback"
        settings.reset()
        STACK.create_tables(boto3.client("dynamodb", region_name=REGION))
        sqs = boto3.client("sqs", region_name=REGION)
        queue = STACK.create_queues(sqs)["FlowStepsQueue"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client = Client(STACK)
        world = setup_world(client, sink.url, flows=1)
        raw_ddb = botocore.session.get_session().create_client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        key = {"TableName": STACK.physical_name("UsersTable"), "Key": {"id": {"S": world["user"]["id"]}}}
        plain_http = httpx.Client()
        cpu, wall, steps, floor = [], [], [], []
        started = time.monotonic()
        for i in range(-3, uplinks):
            if i >= 0 and time.monotonic() - started > seconds:
                break
            t0 = time.thread_time()
            raw_ddb.get_item(**key)
            plain_http.post(sink.url, json={"n": i})
            floor_cpu = (time.thread_time() - t0) * 1000
            expected = sink.count + 1
            resp = client.functions.http(
                "POST", f"{INGEST}?event=up", ingest_headers(world["key"]), json.dumps(uplink(world["eui"], 100 + i))
            )
            if resp.status != 202:
                raise SystemExit(f"ingest failed: {resp.status} {resp.body[:200]!r}")
            client.deliver_streams()  # the flow starter sends the uplink's flow starts (ingest's outbox)
            used, took, handled = 0.0, 0.0, 0
            deadline = time.monotonic() + 30
            while sink.count < expected and time.monotonic() < deadline:
                got = sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    time.sleep(0.01)
                    continue
                event = sqs_event(got, arn, REGION)
                c0, w0 = time.thread_time(), time.perf_counter()
                result = client.functions.invoke("FlowWorkerFunction", event)
                used += time.thread_time() - c0
                took += time.perf_counter() - w0
                handled += len(got)
                if result.get("batchItemFailures"):
                    raise SystemExit(f"worker reported failures: {result}")
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)],
                )
            if sink.count < expected:
                raise SystemExit("the two-step flow did not deliver within 30 s")
            if i >= 0:
                cpu.append(used * 1000)
                wall.append(took * 1000)
                steps.append(handled)
                floor.append(floor_cpu)
        plain_http.close()
    finally:
        sink.close()
        stop(moto)
        settings.reset()
    return {"cpu": cpu, "wall": wall, "steps": steps, "floor": floor}


# ------------------------------------------------------------------ 3. the local cloud, end to end
def bench_cloud(uplinks: int, seconds: float) -> dict[str, Any]:
    import httpx

    port = free_port()
    data_dir = STATE / "ingest-cloud"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "serve.log").open("wb")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_ENDPOINT_URL") and k not in ("JWT_SECRET", "INGEST_KEY_SECRET", "STAGE")
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    sink = Sink()
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the local cloud exited: see {data_dir / 'serve.log'}")
                try:
                    if http.get("/openapi.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the local cloud did not start within 90 s")
                time.sleep(0.2)
            world = setup_world(HttpClient(http), sink.url, flows=1)
            auth = {"authorization": f"Bearer {world['user']['token']}"}
            device_path = f"/api/v1/devices/{world['device']['id']}"
            for _ in range(3):
                http.get(device_path, headers=auth)
            floor_n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < min(5.0, seconds / 4):
                assert http.get(device_path, headers=auth).status_code == 200
                floor_n += 1
            floor_rps = floor_n / (time.perf_counter() - t0)

            url = f"/lambda-url/IngestFunction{INGEST}"
            acks: list[float] = []
            started = time.perf_counter()
            for i in range(uplinks):
                a0 = time.perf_counter()
                reply = http.post(
                    url,
                    params={"event": "up"},
                    content=json.dumps(uplink(world["eui"], 1000 + i)),
                    headers=ingest_headers(world["key"]),
                )
                acks.append((time.perf_counter() - a0) * 1000)
                if reply.status_code != 202 or reply.json()["status"] != "accepted":
                    raise SystemExit(f"ingest over HTTP failed: {reply.status_code} {reply.text[:200]}")
            posted = time.perf_counter() - started
            deadline = time.monotonic() + max(30.0, seconds)
            while sink.count < uplinks and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            if sink.count < uplinks:
                raise SystemExit(f"only {sink.count} of {uplinks} uplinks were delivered in time")
    finally:
        sink.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    return {"floor_rps": floor_rps, "uplinks": uplinks, "elapsed": elapsed, "posted": posted, "acks": acks}


class HttpClient:
    """setup_world's client over real HTTP (Client's ``ok``, through httpx)."""

    def __init__(self, http: Any):
        self.http = http

    def ok(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        resp = self.http.request(method, path, json=json_body, data=form, headers=headers)
        if resp.status_code != expect:
            raise RuntimeError(f"setup {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None


# ------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed ingest requests in-process (part 1)")
    parser.add_argument("--uplinks", type=int, default=40, help="uplinks through the worker in-process (part 2)")
    parser.add_argument("--cloud-uplinks", type=int, default=60, help="uplinks through the local cloud (part 3)")
    parser.add_argument("--max-seconds", type=float, default=240, help="time cap of the whole run")
    args = parser.parse_args()
    args.requests = max(10, min(args.requests, 5000))
    args.uplinks = max(5, min(args.uplinks, 1000))
    args.cloud_uplinks = max(5, min(args.cloud_uplinks, 500))
    budget = args.max_seconds
    begun = time.monotonic()

    with quiet_stdout():  # the functions' log lines
        ack = bench_ack(args.requests, budget * 0.25)
        worker = bench_worker(args.uplinks, budget * 0.3)
    cloud = bench_cloud(args.cloud_uplinks, budget * 0.3)

    fl = percentile(ack["floor"], 50)
    print(
        f"Fleetgate ingest and flow engine benchmark, python {sys.version.split()[0]}, loopback only "
        f"({time.monotonic() - begun:.0f} s)\n"
    )
    print(
        f"1. Ingest acknowledgement in-process (Functions.http, moto mock_aws; a v4 uplink of a labelled device "
        f"with 3 matching flows), n={len(ack['acks'])}"
    )
    print(
        table(
            ["measure", "p50 ms", "p99 ms", "x floor (p50)"],
            [
                ["floor: bare GetItem", f"{fl:.2f}", f"{percentile(ack['floor'], 99):.2f}", "1.0x"],
                [
                    "ingest ack (202)",
                    f"{percentile(ack['acks'], 50):.2f}",
                    f"{percentile(ack['acks'], 99):.2f}",
                    f"{percentile(ack['acks'], 50) / fl:.1f}x",
                ],
            ],
        )
    )
    wf = median(worker["floor"])
    print(
        f"\n2. Flow worker CPU per uplink, two-step flow (function, then HTTP integration to a local sink; the start "
        f"step too: {median(worker['steps']):.0f} steps), moto server subprocess, n={len(worker['cpu'])}"
    )
    print(
        table(
            ["measure", "median ms", "p99 ms", "x floor (median)"],
            [
                [
                    "floor: CPU of 1 GetItem + 1 HTTP POST",
                    f"{wf:.2f}",
                    f"{percentile(worker['floor'], 99):.2f}",
                    "1.0x",
                ],
                [
                    "worker CPU per uplink",
                    f"{median(worker['cpu']):.2f}",
                    f"{percentile(worker['cpu'], 99):.2f}",
                    f"{median(worker['cpu']) / wf:.1f}x",
                ],
                [
                    "worker wall per uplink",
                    f"{median(worker['wall']):.2f}",
                    f"{percentile(worker['wall'], 99):.2f}",
                    f"{median(worker['wall']) / wf:.1f}x",
                ],
            ],
        )
    )
    rate = cloud["uplinks"] / cloud["elapsed"]
    print(
        f"\n3. Local cloud end to end (python -m localcloud serve, embedded moto server; {cloud['uplinks']} uplinks "
        f"posted one after another to the ingest Function URL, until the sink has every delivery)"
    )
    print(
        table(
            ["measure", "value", "x floor"],
            [
                ["floor: GET /api/v1/devices/{id} per second", f"{cloud['floor_rps']:.1f}/s", "1.0x"],
                ["uplinks per second, end to end", f"{rate:.2f}/s", f"{rate / cloud['floor_rps']:.3f}x"],
                [
                    "ingest acks over HTTP, p50 / p99 ms",
                    f"{percentile(cloud['acks'], 50):.1f} / {percentile(cloud['acks'], 99):.1f}",
                    "",
                ],
                ["posting all uplinks took", f"{cloud['posted']:.2f} s", ""],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
