"""What one uplink costs: AWS calls by service and operation, DynamoDB read and write units (from item sizes,
index copies included), CPU, and a price per million uplinks, per scenario. Loopback only, bounded.

Each uplink goes the whole way in this process: POST /api/v1/ingest/chirpstack (the ingest function, warm), the
device history table's stream (the uplink's entry is its claim) handed to the flow starter (the local cloud's
stream mapping), the flow worker invoked with real SQS events of ``batch`` messages, an HTTP sink on 127.0.0.1.
DynamoDB, SQS and its streams are a moto server subprocess, so this thread's CPU (time.thread_time) is ours
alone. Calls are counted with
botocore's event hooks on the layer's own clients; the event source mappings' own calls are modelled (Lambda's
SQS poller: one ReceiveMessage and one DeleteMessageBatch per worker invocation; DynamoDB Streams reads by a
Lambda trigger are not billed).

Write units (localcloud.capacity, the model the budget tests use too): per item written, ceil(size / 1 KB) on the
table and on every index that holds it (KEYS_ONLY: the keys, INCLUDE: the keys and those attributes, ALL: the
item); an UpdateItem is charged for the item's size after it (the larger side, as DynamoDB does), and its index
copies when it sets an attribute they hold. Read units:
ceil(size / 4 KB), halved for eventually consistent reads (a Query: over the items it returned).

Scenarios: the two-step flow (device → function → HTTP integration) with 1, 3 and 10 matching flows; 2, 4 and 8
linear nodes (functions, then the integration); worker batches of 1 and 10; a sink that fails twice (retries
after 1 s, 2 s). With ``--nodered``, Node-RED's CPU per message for the same flow (../shared/peers/nodered/run.sh)
when Node is installed.

Usage: .venv/bin/python bench/engine_cost.py [--uplinks 20] [--nodered] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from _benchlib import REGION, ROOT, Client, Sink, new_eui, quiet_stdout, register_user, set_process_env, table
from ingest import STACK, TO_FAHRENHEIT, ingest_headers, start_moto, stop, uplink

from localcloud import capacity
from localcloud.capacity import item_size

# ------------------------------------------------------------------ prices and assumptions (one place)
PRICES = {  # AWS list prices, us-east-1, on-demand, x86
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
}
STREAM_BATCH = 10  # uplinks per flow starter invocation (a busy stream; at a trickle it is one each)
ASSUMPTIONS = (
    "AWS list prices (us-east-1, on-demand, x86): Lambda $0.20 per million requests and $0.0000166667 per GB-s, "
    "DynamoDB $0.625 per million write units and $0.125 per million read units, SQS $0.40 per million requests. "
    f"Lambda duration: the wall time measured here (moto on loopback stands in for DynamoDB and SQS) at each "
    f"function's memory size in template.yaml; the flow starter handles {STREAM_BATCH} uplinks per invocation; "
    "Lambda's SQS poller makes one ReceiveMessage and one DeleteMessageBatch per worker invocation; reading "
    "DynamoDB Streams for a Lambda trigger is free; free tiers are ignored."
)
FUNCTIONS = {"ingest": "IngestFunction", "starter": "FlowStarterFunction", "worker": "FlowWorkerFunction"}


class Meter:
    """Counts the layer's AWS calls (service, operation) and DynamoDB capacity units, per phase."""

    def __init__(self, raw_dynamodb: Any):
        self.raw = raw_dynamodb
        self.tables = capacity.tables(STACK)
        self.phase = "setup"
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (phase, service, operation)
        self.wru: Counter[str] = Counter()
        self.rru: Counter[str] = Counter()
        self._params: dict[str, Any] = {}
        self.wru_tables: Counter[str] = Counter()  # "phase table" → write units

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build", self.before)
        events.register("after-call", self.after)

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        self.calls[(self.phase, service, model.name)] += 1
        self._params = params  # for after(): calls are sequential here
        if service != "dynamodb":
            return
        if model.name == "PutItem":
            self._put(params["TableName"], params["Item"])
        elif model.name == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        self._put(name, r["PutRequest"]["Item"])
                    else:
                        self._put(name, {})
        elif model.name == "DeleteItem":
            self._put(params["TableName"], {})
        elif model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self._put(entry["Put"]["TableName"], entry["Put"]["Item"], factor=2)
                else:
                    self.wru[self.phase] += 2

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        params = self._params
        half = 1.0 if params.get("ConsistentRead") else 0.5
        if model.name == "GetItem":
            self.rru[self.phase] += half * max(1, math.ceil(item_size(parsed.get("Item") or {}) / 4096))
        elif model.name == "BatchGetItem":
            for items in (parsed.get("Responses") or {}).values():
                self.rru[self.phase] += sum(0.5 * max(1, math.ceil(item_size(i) / 4096)) for i in items)
            missing = sum(len(v["Keys"]) for v in params["RequestItems"].values()) - sum(
                len(v) for v in (parsed.get("Responses") or {}).values()
            )
            self.rru[self.phase] += 0.5 * max(0, missing)
        elif model.name == "Query":
            size = sum(item_size(i) for i in parsed.get("Items") or [])
            self.rru[self.phase] += half * max(1, math.ceil(size / 4096))
        elif model.name == "UpdateItem":
            item = self.raw.get_item(TableName=params["TableName"], Key=params["Key"]).get("Item") or params["Key"]
            names = set((params.get("ExpressionAttributeNames") or {}).values())
            self._put(params["TableName"], item, touched=names)

    def _put(self, name: str, item: dict[str, Any], *, factor: int = 1, touched: set[str] | None = None) -> None:
        table = self.tables.get(name)
        units = table.write_units(item, touched=touched) if table else math.ceil(max(1, item_size(item)) / 1024)
        self.wru[self.phase] += units * factor
        self.wru_tables[f"{self.phase} {name.removeprefix(STACK.prefix + '-')}"] += units * factor


# ------------------------------------------------------------------ scenarios
@dataclass
class Scenario:
    name: str
    flows: int = 1
    functions: int = 1  # function nodes before the integration (nodes = functions + 1)
    batch: int = 10
    fail_twice: bool = False


SCENARIOS = [
    Scenario("two-step flow, batch 10"),
    Scenario("two-step flow, batch 1", batch=1),
    Scenario("3 matching flows", flows=3),
    Scenario("10 matching flows", flows=10),
    Scenario("4 linear nodes", functions=3),
    Scenario("8 linear nodes", functions=7),
    Scenario("sink fails twice", fail_twice=True),
]


def _world(client: Client, sc: Scenario, sink_url: str) -> dict[str, Any]:
    user = register_user(client)
    t = user["token"]
    key = client.ok("POST", "/api/v1/ingest/keys", 201, token=t, json_body={"name": "bench"})["key"]
    eui = new_eui()
    device = client.ok("POST", "/api/v1/devices", 201, token=t, json_body={"dev_eui": eui, "name": "bench"})
    fn = client.ok("POST", "/api/v1/functions", 201, token=t, json_body={"name": "to F", "code": TO_FAHRENHEIT})
    config = {"url": sink_url, "timeout_seconds": 5, "retry_backoff_seconds": 1, "max_attempts": 5}
    integration = client.ok(
        "POST", "/api/v1/integrations", 201, token=t, json_body={"name": "sink", "type": "http", "config": config}
    )
    for n in range(sc.flows):
        nodes = [{"id": "d", "type": "device", "device_id": device["id"]}]
        nodes += [{"id": f"f{i}", "type": "function", "function_id": fn["id"]} for i in range(sc.functions)]
        nodes.append({"id": "i", "type": "integration", "integration_id": integration["id"]})
        edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]
        client.ok("POST", "/api/v1/flows", 201, token=t, json_body={"name": f"f{n}", "nodes": nodes, "edges": edges})
    return {"key": key, "eui": eui}


def run(sc: Scenario, client: Client, meter: Meter, sqs: Any, queue: str, arn: str, uplinks: int) -> dict[str, Any]:
    from localcloud.sqs import sqs_event

    sink = Sink()
    dedup = STACK.physical_name("IngestDedupTable")
    history = STACK.physical_name("DeviceHistoryTable")
    try:
        world = _world(client, sc, sink.url)
        cpu: Counter[str] = Counter()
        wall: Counter[str] = Counter()
        invocations: Counter[str] = Counter()
        meter.calls.clear(), meter.wru.clear(), meter.rru.clear(), meter.wru_tables.clear()
        delivered, n = 0, 0
        rounds = max(1, uplinks // sc.batch) + 1  # the first round warms the instance: not counted
        for r in range(rounds):
            counted = r > 0
            if sc.fail_twice and r == rounds - 1:
                sink.failures = 2  # the last round's first two deliveries fail
            for _ in range(sc.batch):
                meter.phase = "ingest" if counted else "warm"
                body = json.dumps(uplink(world["eui"], n))
                c0, w0 = time.thread_time(), time.perf_counter()
                resp = client.functions.http(
                    "POST", "/api/v1/ingest/chirpstack?event=up", ingest_headers(world["key"]), body
                )
                cpu[meter.phase] += time.thread_time() - c0
                wall[meter.phase] += time.perf_counter() - w0
                invocations[meter.phase] += 1
                if resp.status != 202:
                    raise SystemExit(f"ingest failed: {resp.status} {resp.body[:200]!r}")
                n += 1
            meter.phase = "starter" if counted else "warm"
            c0, w0 = time.thread_time(), time.perf_counter()
            client._streams.drain({dedup, history}) if client._streams else client.deliver_streams()
            cpu[meter.phase] += time.thread_time() - c0
            wall[meter.phase] += time.perf_counter() - w0
            invocations[meter.phase] += math.ceil(sc.batch / STREAM_BATCH)
            expected = delivered + sc.batch * sc.flows
            deadline = time.monotonic() + 30
            while (sink.count < expected) and time.monotonic() < deadline:
                got = sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=sc.batch, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    time.sleep(0.05)
                    continue
                meter.phase = "worker" if counted else "warm"
                c0, w0 = time.thread_time(), time.perf_counter()
                result = client.functions.invoke("FlowWorkerFunction", sqs_event(got, arn, REGION))
                cpu[meter.phase] += time.thread_time() - c0
                wall[meter.phase] += time.perf_counter() - w0
                invocations[meter.phase] += 1
                meter.calls[(meter.phase, "sqs", "ReceiveMessage (Lambda's poller)")] += 1
                meter.calls[(meter.phase, "sqs", "DeleteMessageBatch (Lambda's poller)")] += 1
                if result.get("batchItemFailures"):
                    raise SystemExit(f"worker reported failures: {result}")
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
                )
            if sink.count < expected:
                raise SystemExit(f"{sc.name}: the flows did not deliver within 30 s")
            delivered = expected
        counted_uplinks = (rounds - 1) * sc.batch
    finally:
        sink.close()
    per = 1 / counted_uplinks
    calls = {k: v * per for k, v in meter.calls.items() if k[0] in FUNCTIONS}
    return {
        "scenario": sc.name,
        "uplinks": counted_uplinks,
        "calls": calls,
        "wru": {p: meter.wru[p] * per for p in FUNCTIONS},
        "wru_by_table": {k: v * per for k, v in meter.wru_tables.items() if k.split()[0] in FUNCTIONS},
        "rru": {p: meter.rru[p] * per for p in FUNCTIONS},
        "cpu_ms": {p: cpu[p] * 1000 * per for p in FUNCTIONS},
        "wall_ms": {p: wall[p] * 1000 * per for p in FUNCTIONS},
        "invocations": {p: invocations[p] * per for p in FUNCTIONS},
    }


def memory_mb(function: str) -> int:
    res = STACK.template["Resources"][function]["Properties"]
    return int(res.get("MemorySize") or STACK.template["Globals"]["Function"]["MemorySize"])


def price(result: dict[str, Any]) -> dict[str, float]:
    """Dollars per million uplinks, by service."""
    m = 1e6
    lam = sum(
        result["invocations"][p] * PRICES["lambda_request"]
        + result["wall_ms"][p] / 1000 * memory_mb(fn) / 1024 * PRICES["lambda_gb_second"]
        for p, fn in FUNCTIONS.items()
    )
    ddb = sum(result["wru"].values()) * PRICES["dynamodb_wru"] + sum(result["rru"].values()) * PRICES["dynamodb_rru"]
    sqs = sum(v for (p, s, _), v in result["calls"].items() if s == "sqs") * PRICES["sqs_request"]
    return {"lambda": lam * m, "dynamodb": ddb * m, "sqs": sqs * m, "total": (lam + ddb + sqs) * m}


# ------------------------------------------------------------------ Node-RED
def nodered() -> float | None:
    """Node-RED's server CPU per message (ms) for the same flow, or None (no Node, or the harness failed)."""
    script = ROOT.parent / "shared" / "peers" / "nodered" / "run.sh"
    if shutil.which("node") is None or not script.exists():
        return None
    env = {**os.environ, "NODERED_WORK": str(ROOT / ".bench" / "nodered")}  # installs there once
    try:
        out = subprocess.run(
            ["bash", str(script), "--n", "400", "--conc", "1", "--variants", "uplink"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        ).stdout
    except (subprocess.TimeoutExpired, OSError):
        return None
    found = re.search(r"^SUMMARY .*cpu=([0-9.]+)s/1k", out, re.MULTILINE)  # seconds per 1000 = ms per message
    return float(found.group(1)) if found else None


# ------------------------------------------------------------------ report
def report(results: list[dict[str, Any]], peer: float | None, markdown: bool) -> str:
    lines = []
    head = ["Scenario", "AWS calls (ingest + starter + worker)", "WRU", "RRU", "CPU ms", "$ per million uplinks"]
    rows = []
    for r in results:
        by = {p: sum(v for (ph, _, _), v in r["calls"].items() if ph == p) for p in FUNCTIONS}
        rows.append(
            [
                r["scenario"],
                f"{sum(by.values()):.2f} ({by['ingest']:.2f} + {by['starter']:.2f} + {by['worker']:.2f})",
                f"{sum(r['wru'].values()):.1f}",
                f"{sum(r['rru'].values()):.1f}",
                f"{sum(r['cpu_ms'].values()):.1f}",
                f"{price(r)['total']:.2f}",
            ]
        )
    lines.append(_table(head, rows, markdown))
    first = results[0]
    lines.append("")
    lines.append(f"Calls per uplink by service and operation ({first['scenario']}):")
    ops = sorted(first["calls"].items(), key=lambda kv: (list(FUNCTIONS).index(kv[0][0]), kv[0][1], kv[0][2]))
    lines.append(
        _table(["Function", "Service", "Operation", "Calls"], [[p, s, o, f"{v:.2f}"] for (p, s, o), v in ops], markdown)
    )
    cost = price(first)
    lines.append("")
    lines.append(
        "Write units per uplink by table: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(first["wru_by_table"].items()))
    )
    lines.append(
        f"Cost per million uplinks ({first['scenario']}): ${cost['total']:.2f} (Lambda ${cost['lambda']:.2f}, "
        f"DynamoDB ${cost['dynamodb']:.2f}, SQS ${cost['sqs']:.2f}); CPU by function (ms): "
        + ", ".join(f"{p} {v:.1f}" for p, v in first["cpu_ms"].items())
    )
    ours = sum(first["cpu_ms"].values())
    if peer:
        lines.append(
            f"Node-RED CPU per message, same flow, same machine: {peer:.2f} ms; ours {ours:.1f} ms ({ours / peer:.1f}x)"
        )
    else:
        lines.append("Node-RED: not measured (no Node, or run without --nodered)")
    lines.append("")
    lines.append(ASSUMPTIONS)
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[str]], markdown: bool) -> str:
    if not markdown:
        return table(head, rows)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def main() -> int:
    import boto3
    import botocore.session

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uplinks", type=int, default=20, help="counted uplinks per scenario (after a warm-up)")
    parser.add_argument("--nodered", action="store_true", help="also run the Node-RED peer (needs Node)")
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown (README)")
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    args = parser.parse_args()

    from fleetgate.core import settings
    from fleetgate.core.repository import shared_connection
    from fleetgate.engine import queues

    moto, endpoint = start_moto()
    results = []
    try:
        set_process_env(STACK, endpoint)
        settings.reset()
        STACK.create_tables(boto3.client("dynamodb", region_name=REGION))
        sqs = boto3.client("sqs", region_name=REGION)
        queue = STACK.create_queues(sqs)["FlowStepsQueue"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        raw = botocore.session.get_session().create_client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        client = Client(STACK)
        client.deliver_streams()
        meter = Meter(raw)
        meter.attach(shared_connection().client)
        meter.attach(queues.sqs())
        meter.attach(queues.scheduler())
        started = time.monotonic()
        for sc in SCENARIOS:
            if args.only and args.only not in sc.name:
                continue
            if time.monotonic() - started > 600:
                print(f"(stopped: 10 minutes; {sc.name} and later not run)")
                break
            uplinks = max(sc.batch, args.uplinks // sc.batch * sc.batch)
            with quiet_stdout():
                results.append(run(sc, client, meter, sqs, queue, arn, uplinks if sc.batch > 1 else min(uplinks, 10)))
    finally:
        stop(moto)
        settings.reset()
    peer = nodered() if args.nodered else None
    print(report(results, peer, args.markdown))
    out = ROOT / ".bench" / "engine_cost.json"
    out.parent.mkdir(exist_ok=True)
    plain = [{**r, "calls": {" ".join(k): v for k, v in r["calls"].items()}} for r in results]
    out.write_text(json.dumps({"results": plain, "nodered_cpu_ms": peer}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
