"""Cold start of every function, as a ratio of a bare botocore floor measured in the same run.

A cold start here is a fresh process of the runtime-only venv (.bench/runtime-venv, built once from
layers/fleetgate/requirements.txt and nothing else) that imports the function's handler module and
handles its first event (API Gateway v2; SQS or EventBridge for the flow worker and offline detection),
timed from process start until the result arrives. The floor is
the same kind of process importing botocore, creating one DynamoDB client and doing one GetItem. Both
talk to one moto server (a subprocess of this script) on 127.0.0.1.

``--layer DIR``: the processes import a built layer's packages (``sam build``'s: .aws-sam/build/SharedLayer/python)
ahead of the venv's, and write no bytecode, as on Lambda, whose /opt is read-only: what a deployed cold start
imports. Without it, our code is byte-compiled by an untimed first run.

Usage: .venv/bin/python bench/cold_start.py [--runs 7] [--max-seconds 240] [--top 16] [--strict] [--layer DIR]
       [--only NAME,NAME] [--cprofile DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _benchlib import (
    FAKE_AWS,
    LAYER,
    REGION,
    ROOT,
    STATE,
    Client,
    function_env,
    grant_partner_permissions,
    median,
    new_eui,
    quiet_stdout,
    register_user,
    request_parts,
    seed_device_manager,
    seed_devices_and_labels,
    set_process_env,
    table,
)
from _estates_scenarios import estates_event_targets

CHILD = Path(__file__).resolve().parent / "_cold_child.py"
VENV = STATE / "runtime-venv"
REQUIREMENTS = LAYER / "requirements.txt"
LOGS = STATE / "logs"
TARGET_RATIO = 1.5
# Our code's share of a cold start over the library stack's, x the floor (issue 8).
OWN_TARGET = 0.15
# The mandated libraries beyond the stack that a function's measured first request needs (_cold_child.LIBRARIES
# shows each one's first use): its baseline is the stack with them. The bench checks that the function loads them.
LIBRARIES_OF: dict[str, tuple[str, ...]] = {
    "AuthFunction": ("argon2",),
    "MobileFunction": ("phonenumbers", "argon2"),
    "MobivisorFunction": ("httpx",),
    "MicroshareRefreshFunction": ("httpx",),
    "LockCommandsFunction": ("firebase",),
}
LIBRARY_MODULE = {"httpx": "httpx", "phonenumbers": "phonenumbers", "argon2": "argon2", "firebase": "firebase_admin"}
# Heavy modules no API function should load (see shared/NOTES.md, "Cold-start import costs").
FLAGGED = ("aws_xray_sdk", "firebase_admin", "quickjs", "cryptography")
# The only functions that send over FCM, and so the only ones that may import firebase_admin (they must, on
# the measured event: it is a send).
SENDS_FCM = frozenset({"LockCommandsFunction"})
# Modules that must not be in the runtime venv: they would make the measurement unrepresentative.
DEV_ONLY = ("moto", "samcli", "cfnlint", "pytest")

# One representative route per function; a function not listed uses its first GET route without path
# parameters. Each is what a client does most: log in; list the first page.
REPRESENTATIVE: dict[str, tuple[str, str]] = {
    "AuthFunction": ("POST", "/api/v1/auth/login"),
    "DevicesFunction": ("GET", "/api/v1/devices?limit=20"),
    "LabelsFunction": ("GET", "/api/v1/labels?limit=20"),
    "FunctionsFunction": ("GET", "/api/v1/functions?limit=20"),
    "IntegrationsFunction": ("GET", "/api/v1/integrations?limit=20"),
    "FlowsFunction": ("GET", "/api/v1/flows?limit=20"),
    "StoragesFunction": ("GET", "/api/v1/storages?limit=20"),
    "SearchFunction": ("GET", "/api/v1/search?query=bench"),
    "MobivisorFunction": ("GET", "/api/v1/mobivisor/devices"),
    "MicroshareFunction": ("GET", "/api/v1/devices?limit=20"),  # warm shared cache, cold instance
    "HealthFunction": ("GET", "/health"),
}


# ------------------------------------------------------------------ runtime-only venv
def ensure_runtime_venv(rebuild: bool = False) -> Path:
    """Build .bench/runtime-venv from the layer's requirements only (cached on their hash)."""
    python = VENV / "bin" / "python"
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    stamp_text = hashlib.sha256(REQUIREMENTS.read_bytes() + f"{base}|{platform.python_version()}".encode()).hexdigest()
    stamp = VENV / ".bench-stamp"
    if not rebuild and python.exists() and stamp.exists() and stamp.read_text().strip() == stamp_text:
        return python
    print(f"building {VENV.relative_to(ROOT)} from {REQUIREMENTS.relative_to(ROOT)} (once; cached) ...", flush=True)
    if VENV.exists():
        shutil.rmtree(VENV)
    STATE.mkdir(exist_ok=True)
    log = STATE / "runtime-venv-build.log"
    with log.open("w") as out:
        # No pip or setuptools inside: like a Lambda layer, it holds the runtime dependencies and nothing else.
        steps = [
            [str(base), "-m", "venv", "--without-pip", str(VENV)],
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--no-input",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=600).returncode != 0:
                raise SystemExit(f"runtime venv build failed: {' '.join(step)}\n{log.read_text()[-3000:]}")
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util,sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *DEV_ONLY,
        ],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0 or check.stdout.strip():
        raise SystemExit(f"runtime venv holds dev-only packages: {check.stdout.strip() or check.stderr}")
    stamp.write_text(stamp_text)
    return python


# ------------------------------------------------------------------ moto server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / "moto-server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"moto server exited: see {LOGS / 'moto-server.log'}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).read()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------ measured processes
@dataclass
class Target:
    name: str
    label: str  # route, or what the floor does
    spec_file: Path
    env: dict[str, str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    profile: list[Imp] = field(default_factory=list)  # -X importtime tree


BUILT_LAYER: Path | None = None  # --layer


def base_env(python: Path, endpoint: str, name: str, memory: int, handler: str) -> dict[str, str]:
    """A clean environment, like Lambda's: nothing inherited from this (dev) process."""
    built = {"PYTHONDONTWRITEBYTECODE": "1"} if BUILT_LAYER else {}
    return {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": "/tmp",
        # Lambda puts the function code and /opt/python (the layer) on the path.
        "PYTHONPATH": f"{ROOT}:{BUILT_LAYER or LAYER}",
        **built,
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": handler,
    }


def run_once(
    python: Path, target: Target, *, xopts: tuple[str, ...] = (), timeout: float = 60.0, stderr_to: Path | None = None
) -> dict[str, Any]:
    """Start one fresh process; wall time from just before spawning it until its report arrives."""
    r, w = os.pipe()
    env = {**target.env, "BENCH_RESULT_FD": str(w)}
    out_path = LOGS / f"{target.name}.out"
    with out_path.open("wb") as out, (stderr_to or LOGS / f"{target.name}.err").open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(python), "-P", *xopts, str(CHILD), str(target.spec_file)],
            env=env,
            pass_fds=(w,),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=str(ROOT),
        )
        os.close(w)
        buf = b""
        t1 = None
        try:
            # The report (timed: its arrival ends the cold start), then the warm call's line.
            while buf.count(b"\n") < 2:
                ready, _, _ = select.select([r], [], [], max(0.0, t0 + timeout - time.perf_counter()))
                if not ready:
                    proc.kill()
                    raise RuntimeError(f"{target.name}: no result within {timeout:.0f} s")
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                buf += chunk
                if t1 is None and b"\n" in buf:
                    t1 = time.perf_counter()
        finally:
            os.close(r)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if t1 is None:
        tail = (LOGS / f"{target.name}.err").read_text(errors="replace")[-2000:] if stderr_to is None else ""
        raise RuntimeError(f"{target.name}: process exited {proc.returncode} without a result\n{tail}")
    first, _, rest = buf.partition(b"\n")
    report = json.loads(first)
    report["wall_ms"] = (t1 - t0) * 1000
    report.update(json.loads(rest) if rest.strip() else {"warm_ms": None})
    if not report["ok"]:
        raise RuntimeError(f"{target.name}: unexpected result (status {report['status']}): {report['detail']}")
    return report


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (.*)$")


@dataclass
class Imp:
    """One line of -X importtime: a module's own and cumulative import time (µs), and what it imported."""

    name: str
    self_us: int
    cum_us: int
    children: list[Imp] = field(default_factory=list)

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]


def parse_importtime(path: Path) -> list[Imp]:
    """The import tree, roots in import order. Python prints a module after the modules it imported,
    indented two spaces per level, so a line's children are the deeper lines just before it."""
    pending: dict[int, list[Imp]] = defaultdict(list)
    for line in path.read_text(errors="replace").splitlines():
        m = _IMPORTTIME.match(line)
        if not m:
            continue
        raw = m.group(3)
        depth = (len(raw) - len(raw.lstrip(" "))) // 2
        node = Imp(raw.strip(), int(m.group(1)), int(m.group(2)), pending.pop(depth + 1, []))
        pending[depth].append(node)
    roots = pending.get(0, [])
    # Drop the harness's start-up imports: everything up to its ``import json``, before the measured part.
    harness = next((i for i, node in enumerate(roots) if node.name == "json"), -1)
    return roots[harness + 1 :]


def walk(nodes: list[Imp], parent: Imp | None = None):
    for node in nodes:
        yield node, parent
        yield from walk(node.children, node)


def profile_lines(roots: list[Imp], top: int, max_depth: int = 3) -> list[str]:
    if not roots:
        return ["    (no import profile)"]
    # The `top` costliest imports of the first levels, each shown under its importer (a parent always
    # costs at least as much as its child, so it is picked first).
    depth_of: dict[int, int] = {}
    for node, parent in walk(roots):
        depth_of[id(node)] = 0 if parent is None else depth_of[id(parent)] + 1
    chosen: set[int] = set()
    for node, parent in sorted(walk(roots), key=lambda np: -np[0].cum_us):
        if len(chosen) >= top:
            break
        if depth_of[id(node)] <= max_depth and (parent is None or id(parent) in chosen):
            chosen.add(id(node))
    lines = [
        "    import tree (cumulative ms, own ms; the costliest imports of the first "
        f"{max_depth + 1} levels, lazy imports of the first call included):"
    ]

    def render(nodes: list[Imp], depth: int) -> None:
        for node in sorted(nodes, key=lambda n: -n.cum_us):
            if id(node) in chosen:
                lines.append(f"    {node.cum_us / 1000:6.0f} {node.self_us / 1000:6.1f}  {'  ' * depth}{node.name}")
                render(node.children, depth + 1)

    render(roots, 0)
    # Cost of entering each package from outside it (includes what it pulls in: pynamodb includes botocore).
    entry: dict[str, int] = defaultdict(int)
    own: dict[str, int] = defaultdict(int)
    for node, parent in walk(roots):
        own[node.package] += node.self_us
        if parent is None or parent.package != node.package:
            entry[node.package] += node.cum_us
    skip = {"functions", "fleetgate", "_cold_child"}
    ranked = [kv for kv in sorted(entry.items(), key=lambda kv: -kv[1]) if kv[0] not in skip][:8]
    lines.append("    package entry cost (cumulative, ms): " + ", ".join(f"{k} {v / 1000:.0f}" for k, v in ranked))
    total = sum(own.values())
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:8]
    lines.append(
        f"    own import time by package (all imports {total / 1000:.0f} ms): "
        + ", ".join(f"{k} {v / 1000:.0f}" for k, v in ranked)
    )
    return lines


# ------------------------------------------------------------------ setup
def start_fake_upstreams() -> tuple[list[Any], dict[str, str]]:
    """Fake Mobivisor, Microshare and FCM (tests/fakes.py) on loopback, and the settings that point at them."""
    from tests.fakes import FakeFcm, FakeMicroshare, FakeMobivisor

    mobivisor, microshare, fcm = FakeMobivisor("bench-token").start(), FakeMicroshare().start(), FakeFcm().start()
    env = {
        "FCM_ENDPOINT": fcm.url,
        "FCM_PROJECT_ID": "fleetgate-bench",
        "MOBIVISOR_API_URL": mobivisor.url,
        "MOBIVISOR_API_TOKEN": "bench-token",
        "MICROSHARE_AUTH_URL": microshare.url,
        "MICROSHARE_API_URL": microshare.url,
        "MICROSHARE_USERNAME": microshare.username,
        "MICROSHARE_PASSWORD": microshare.password,
        "MICROSHARE_API_KEY": microshare.client_id,
    }
    return [mobivisor, microshare, fcm], env


def build_targets(
    stack: Any, python: Path, endpoint: str, upstream_env: dict[str, str]
) -> tuple[Target, list[Target], list[str]]:
    import boto3

    from fleetgate.core import settings
    from localcloud.apigw import http_event

    stack.create_tables(boto3.client("dynamodb", region_name=REGION))
    stack.create_queues(boto3.client("sqs", region_name=REGION))
    os.environ.update(upstream_env)
    settings.reset()
    client = Client(stack)
    user, admin = register_user(client), register_user(client, admin=True)
    grant_partner_permissions(client, admin, user)
    devices, _ = seed_devices_and_labels(client, user["token"], devices=10, labels=5)
    seed_device_manager(client, user["token"], user["id"], devices[0], "https://example.com/hook")
    client.ok("GET", "MicroshareApi:/api/v1/devices", 200, token=user["token"])  # fills the shared cluster cache
    special = event_targets(stack, client, user, admin)
    client.deliver_streams()  # the search index of what setup created

    specs = STATE / "cold-specs"
    specs.mkdir(parents=True, exist_ok=True)
    floor_spec = specs / "floor.json"
    floor_spec.write_text(
        json.dumps({"mode": "floor", "table": stack.physical_name("UsersTable"), "key": {"id": {"S": user["id"]}}})
    )
    floor = Target(
        "floor",
        "import botocore + 1 DynamoDB client + 1 GetItem",
        floor_spec,
        base_env(python, endpoint, "bench-floor", 512, "floor"),
    )

    stack_spec = specs / "stack.json"
    stack_spec.write_text(
        json.dumps({"mode": "stack", "table": stack.physical_name("UsersTable"), "key": {"id": {"S": user["id"]}}})
    )
    targets, skipped = (
        [
            Target(
                "stack",
                "floor + PynamoDB, Powertools resolver (validation), Logger, pydantic",
                stack_spec,
                base_env(python, endpoint, "bench-stack", 512, "stack"),
            )
        ],
        [],
    )
    for libraries in sorted(set(LIBRARIES_OF.values())):
        name = baseline_name(libraries)
        spec = specs / f"{name}.json"
        spec.write_text(
            json.dumps(
                {
                    "mode": "stack",
                    "libraries": list(libraries),
                    "table": stack.physical_name("UsersTable"),
                    "key": {"id": {"S": user["id"]}},
                }
            )
        )
        targets.append(
            Target(
                name,
                f"stack + first use of {', '.join(libraries)}",
                spec,
                base_env(python, endpoint, f"bench-{name}", 512, "stack"),
            )
        )
    for fn in stack.functions.values():
        env = {
            **base_env(python, endpoint, stack.physical_name(fn.logical_id), fn.memory, fn.handler),
            **function_env(fn.environment),
            **upstream_env,
        }
        if fn.logical_id in special:  # a request that needs seeded data, or an SQS / schedule event
            label, event, expect = special[fn.logical_id]
            spec = specs / f"{fn.logical_id}.json"
            spec.write_text(
                json.dumps(
                    {
                        "mode": "function",
                        "module": fn.module,
                        "attribute": fn.attribute,
                        "event": event,
                        **expect,
                        "fresh_uuid": True,
                        "memory": fn.memory,
                        "timeout": fn.timeout,
                        "function_name": stack.physical_name(fn.logical_id),
                    }
                )
            )
            targets.append(Target(fn.logical_id, label, spec, env))
            continue
        if not fn.routes:
            skipped.append(f"{fn.logical_id}: no HTTP route and no event in event_targets()")
            continue
        chosen = REPRESENTATIVE.get(fn.logical_id)
        if chosen is None:
            plain = [r for r in fn.routes if r.method == "GET" and not r.params]
            if not plain:
                skipped.append(f"{fn.logical_id}: no representative route (add it to REPRESENTATIVE)")
                continue
            chosen = ("GET", plain[0].path)
        method, target_path = chosen
        path = target_path.split("?", 1)[0]
        route = next((r for r in fn.routes if r.method == method and r.regex.match(path)), None)
        if route is None:
            skipped.append(f"{fn.logical_id}: {method} {path} is not one of its routes")
            continue
        if fn.logical_id == "AuthFunction":
            headers, body = request_parts(form={"username": user["email"], "password": "correct horse battery"})
        else:
            headers, body = request_parts(token=user["token"])
        event = http_event(method, target_path, headers=headers, body=body, route=route)
        spec = specs / f"{fn.logical_id}.json"
        spec.write_text(
            json.dumps(
                {
                    "mode": "function",
                    "module": fn.module,
                    "attribute": fn.attribute,
                    "event": event,
                    "expect_status": 200,
                    "memory": fn.memory,
                    "timeout": fn.timeout,
                    "function_name": stack.physical_name(fn.logical_id),
                }
            )
        )
        targets.append(Target(fn.logical_id, f"{method} {target_path}", spec, env))
    return floor, targets, skipped


def event_targets(
    stack: Any, client: Client, user: dict[str, str], admin: dict[str, str]
) -> dict[str, tuple[str, dict, dict]]:
    """Functions measured with an event of their own: ingest (an X-API-Key and an uplink body), routes that need a
    seeded id, and functions without HTTP routes (the flow worker's SQS event, offline detection's schedule).
    ``{{uuid}}`` in an event becomes a fresh UUID in every measured process (a new uplink, a new run)."""
    from localcloud.apigw import http_event

    events = ROOT / "events"
    t = user["token"]
    eui = new_eui()
    device = client.ok("POST", "/api/v1/devices", 201, token=t, json_body={"dev_eui": eui, "name": "cold start"})
    storage = client.ok("POST", "/api/v1/storages", 201, token=t, json_body={"name": "cold start"})
    flow = client.ok(
        "POST",
        "/api/v1/flows",
        201,
        token=t,
        json_body={
            "name": "cold start",
            "nodes": [
                {"id": "sensor", "type": "device", "device_id": device["id"]},
                {"id": "keep", "type": "storage", "storage_id": storage["id"]},
            ],
            "edges": [{"source": "sensor", "target": "keep"}],
        },
    )
    key = client.ok("POST", "/api/v1/ingest/keys", 201, token=t, json_body={"name": "cold start"})["key"]
    out: dict[str, tuple[str, dict, dict]] = {}
    routes = {(r.method, r.path): r for r in stack.routes()}

    ingest = json.loads((events / "ingest-chirpstack-up.json").read_text())
    body = json.loads(ingest["body"])
    body["deduplicationId"], body["deviceInfo"]["devEui"] = "{{uuid}}", eui
    # ChirpStack stamps an uplink with its own time, a moment before it posts: the sample's fixed, stale time would
    # take the path of a clock far off (one DynamoDB call more than a real uplink makes).
    body["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out["IngestFunction"] = (
        "POST /api/v1/ingest/chirpstack?event=up (X-API-Key, ChirpStack v4 uplink)",
        http_event(
            "POST",
            "/api/v1/ingest/chirpstack?event=up",
            body=json.dumps(body),
            headers={"content-type": "application/json", "x-api-key": key, "user-agent": "ChirpStack"},
            route=routes[("POST", "/api/v1/ingest/chirpstack")],
        ),
        {"expect_status": 202},
    )

    out["UsersFunction"] = (
        "GET /api/v1/users (an admin)",
        http_event(
            "GET",
            "/api/v1/users",
            headers={"authorization": f"Bearer {admin['token']}", "user-agent": "bench"},
            route=routes[("GET", "/api/v1/users")],
        ),
        {"expect_status": 200},
    )

    path = f"/api/v1/flows/{flow['id']}/dead-letters"
    out["DeadLettersFunction"] = (
        f"GET {path}",
        http_event(
            "GET",
            path,
            headers={"authorization": f"Bearer {t}", "accept": "application/json"},
            route=routes[("GET", "/api/v1/flows/{flow_id}/dead-letters")],
        ),
        {"expect_status": 200},
    )

    sqs_event = json.loads((events / "flow-worker-sqs.json").read_text())
    step = json.loads(sqs_event["Records"][0]["body"])
    step.update(flow_id=flow["id"], run_id="{{uuid}}")
    step["start"].update(owner_id=flow["owner_id"], device_id=device["id"], dev_eui=eui, origin="{{uuid}}")
    sqs_event["Records"][0]["body"] = json.dumps(step)
    out["FlowWorkerFunction"] = (
        "SQS: the first step of a run (events/flow-worker-sqs.json)",
        sqs_event,
        {"expect_result": {"batchItemFailures": []}},
    )

    out.update(financing_targets(client, routes, admin["token"]))

    scheduled = json.loads((events / "offline-schedule.json").read_text())
    scheduled["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out["OfflineFunction"] = (
        "Schedule: offline detection (events/offline-schedule.json)",
        scheduled,
        {"expect_result": {"complete": True}},
    )
    claims = (events / "flow-starter-stream.json").read_text()
    claims = claims.replace("3f5bd8a5-7c2b-4b63-9c4a-2f1e7d9b0a11", "{{uuid}}")
    out["FlowStarterFunction"] = (
        "DynamoDB stream: an uplink's history entry with one flow start (events/flow-starter-stream.json)",
        json.loads(claims),
        {"expect_result": {"batchItemFailures": []}},
    )
    indexed = (events / "search-indexer-stream.json").read_text().replace("{{owner_id}}", user["id"])
    indexed = indexed.replace("3f0c2a9e-5b1d-4e2a-9c7f-0d6b8a4e1f23", "{{uuid}}")
    out["SearchIndexerFunction"] = (
        "DynamoDB stream: a function created (events/search-indexer-stream.json)",
        json.loads(indexed),
        {"expect_result": {"batchItemFailures": []}},
    )
    out.update(estates_event_targets(client, routes))

    stats = client.ok("GET", "MicroshareApi:/api/v1/devices/cache/stats", 200, token=t)  # filled by the setup
    out["MicroshareRefreshFunction"] = (
        "Schedule: rediscover the Microshare clusters (events/microshare-refresh.json)",
        json.loads((events / "microshare-refresh.json").read_text()),
        {"expect_result": {"clusters": stats["clusters"], "devices": stats["devices"]}},
    )
    return {name: spec for name, spec in out.items() if name in stack.functions}


def financing_targets(
    client: Client, routes: dict[tuple[str, str], Any], admin: str
) -> dict[str, tuple[str, dict, dict]]:
    """A financed phone with an overdue instalment and a token: the phone reads its status, an admin lists the
    customers, an EMI reminder for it is sent over FCM (a send every time, unlike a command, whose claim lets
    one message send once), and the enforcement schedule runs."""
    from datetime import UTC, datetime, timedelta

    from localcloud.apigw import http_event
    from tests.financing_support import customer_body

    events = ROOT / "events"
    customer = client.ok("POST", "/api/admin/customers", 201, token=admin, json_body=customer_body(due_in_days=(-2,)))
    imei = customer["data"]["imei1"]
    client.ok("PUT", "/api/customer/device/fcm-token", 200, json_body={"fcmToken": "bench-token", "imei1": imei})
    path = f"/api/customer/device/status/{imei}"
    out: dict[str, tuple[str, dict, dict]] = {
        "CustomerDeviceFunction": (
            f"GET {path}",
            http_event("GET", path, route=routes[("GET", "/api/customer/device/status/{imei1}")]),
            {"expect_status": 200},
        ),
        "CustomersAdminFunction": (
            "GET /api/admin/customers?limit=20",
            http_event(
                "GET",
                "/api/admin/customers?limit=20",
                headers={"authorization": f"Bearer {admin}"},
                route=routes[("GET", "/api/admin/customers")],
            ),
            {"expect_status": 200},
        ),
    }
    reminder = json.loads((events / "lock-commands-sqs.json").read_text())
    day = datetime.now(UTC).date().isoformat()
    message = {"v": 1, "kind": "reminder", "customerId": customer["data"]["customerId"], "day": day, "attempt": 1}
    reminder["Records"][0]["body"] = json.dumps(message)
    out["LockCommandsFunction"] = (
        "SQS: an EMI reminder sent over FCM (events/lock-commands-sqs.json)",
        reminder,
        {"expect_result": {"batchItemFailures": []}},
    )
    scheduled = json.loads((events / "emi-enforcement-schedule.json").read_text())
    scheduled["time"] = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out["EmiEnforcementFunction"] = (
        "Schedule: overdue enforcement (events/emi-enforcement-schedule.json)",
        scheduled,
        {"expect_result": {"complete": True}},
    )
    return out


# ------------------------------------------------------------------ report
def cold_part(t: Target, kind: str = "wall") -> float:
    """What a cold start adds to a request, in ms of wall (or CPU) time: each run's first request (process start
    included) less the same request made warm in that process; the median over the runs (nan: no warm call)."""
    warm = "warm_ms" if kind == "wall" else f"warm_{kind}_ms"
    return median([r[f"{kind}_ms"] - r[warm] for r in t.runs if r.get("warm_ms") is not None])


def baseline_name(libraries: tuple[str, ...]) -> str:
    return "+".join(("stack", *libraries))


def fmt_ms(v: float) -> str:
    return f"{v:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="measured cold starts per function (median reported)")
    parser.add_argument("--max-seconds", type=float, default=240, help="time cap for the measured rounds")
    parser.add_argument("--top", type=int, default=16, help="lines of import tree shown per process")
    parser.add_argument("--rebuild-venv", action="store_true", help="rebuild .bench/runtime-venv")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 if a function is over {TARGET_RATIO}x floor")
    parser.add_argument("--layer", type=Path, help="a built layer's python/ directory (after sam build)")
    parser.add_argument(
        "--only",
        help="comma-separated function names (MobileFunction,AuthFunction): these, the floor and their baselines",
    )
    parser.add_argument(
        "--cprofile", type=Path, help="also write one cProfile of each process to DIR/<name>.prof (untimed extra run)"
    )
    args = parser.parse_args()
    args.runs = max(1, min(args.runs, 101))
    if args.layer is not None:
        if not (args.layer / "fleetgate").is_dir():
            raise SystemExit(f"{args.layer}: no fleetgate package; run `.venv/bin/sam build` first")
        global BUILT_LAYER
        BUILT_LAYER = args.layer.resolve()

    from localcloud.template import stack as load_stack

    stack = load_stack()
    python = ensure_runtime_venv(args.rebuild_venv)
    LOGS.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()
    moto, endpoint = start_moto()
    fakes, upstream_env = start_fake_upstreams()
    try:
        set_process_env(stack, endpoint)
        with quiet_stdout():  # the functions' access log lines during setup
            floor, targets, skipped = build_targets(stack, python, endpoint, upstream_env)
        if args.only:
            wanted = {"stack", *(name.strip() for name in args.only.split(",") if name.strip())}
            wanted |= {baseline_name(LIBRARIES_OF[n]) for n in wanted if n in LIBRARIES_OF}
            unknown = wanted - {t.name for t in targets}
            if unknown:
                raise SystemExit(f"--only: no target named {', '.join(sorted(unknown))}")
            targets = [t for t in targets if t.name in wanted]
        everything = [floor, *targets]

        # Untimed first run of each: byte-compiles the repo's code (the built layer ships bytecode:
        # layers/fleetgate/Makefile, checked by .ci/check_layer.py) and
        # warms the OS file cache, so every measured run starts equally.
        for t in everything:
            try:
                run_once(python, t)
            except RuntimeError as exc:
                t.error = str(exc)
        if floor.error:
            raise SystemExit(f"floor failed: {floor.error}")
        live = [t for t in everything if not t.error]

        started = time.monotonic()
        rounds = 0
        for i in range(args.runs):
            if time.monotonic() - started > args.max_seconds:
                break
            # Interleaved, in a rotating order, so drift on the machine hits every target alike.
            for t in live[i % len(live) :] + live[: i % len(live)]:
                try:
                    t.runs.append(run_once(python, t))
                except RuntimeError as exc:
                    t.error = str(exc)
            live = [t for t in live if not t.error]
            rounds += 1

        for t in everything:
            if t.error:
                continue
            err = LOGS / f"{t.name}.importtime"
            try:
                run_once(python, t, xopts=("-X", "importtime"), stderr_to=err)
                t.profile = parse_importtime(err)
            except RuntimeError as exc:
                t.profile = []
                print(f"  import profile of {t.name} failed: {exc}", file=sys.stderr)
            if args.cprofile:
                args.cprofile.mkdir(parents=True, exist_ok=True)
                out = (args.cprofile / f"{t.name}.prof").resolve()
                try:
                    run_once(python, t, xopts=("-m", "cProfile", "-o", str(out)))
                except RuntimeError as exc:
                    print(f"  cProfile of {t.name} failed: {exc}", file=sys.stderr)
    finally:
        stop(moto)
        for fake in fakes:
            fake.stop()

    # ---------------------------------------------------------------- print
    fl = median([r["wall_ms"] for r in floor.runs])
    print(
        f"\nFleetgate cold start: fresh process, import + first invocation, end to end; median of {rounds} "
        f"(interleaved), python {version}, runtime-only venv {VENV.relative_to(ROOT)}, "
        f"moto server at {endpoint}"
    )
    print(f"FLOOR = {fl:.0f} ms: {floor.label} (fresh process of the same venv, same endpoint)\n")
    rows, over = [], []
    for t in everything:
        if t.error:
            rows.append([t.name, t.label, "ERROR", "", "", "", "", "", "", "", ""])
            continue
        wall = [r["wall_ms"] for r in t.runs]
        med = median(wall)
        ratio = med / fl
        startup = median([r["wall_ms"] - r["in_process_ms"] for r in t.runs])
        verdict = "" if t.name == "floor" or t.name.startswith("stack") else ("ok" if ratio <= TARGET_RATIO else "OVER")
        if verdict == "OVER":
            over.append(f"{t.name} {ratio:.2f}x")
        rows.append(
            [
                t.name,
                t.label,
                fmt_ms(med),
                f"{ratio:.2f}x",
                f"{min(wall):.0f}-{max(wall):.0f}",
                fmt_ms(startup),
                fmt_ms(median([r["init_ms"] for r in t.runs])),
                fmt_ms(median([r["first_call_ms"] for r in t.runs])),
                fmt_ms(median(warm))
                if (warm := [r["warm_ms"] for r in t.runs if r.get("warm_ms") is not None])
                else "-",
                str(t.runs[-1]["modules"]),
                verdict,
            ]
        )
    print(
        table(
            [
                "function",
                "route",
                "median ms",
                "x floor",
                "range ms",
                "start ms",
                "init ms",
                "1st call ms",
                "warm call ms",
                "modules",
                f"<={TARGET_RATIO}x",
            ],
            rows,
            "llrrrrrrrrl",
        )
    )
    print(
        "  start = interpreter start-up until the script runs; init = import the handler module (floor: import "
        "botocore);\n  1st call = the first invocation: DynamoDB client creation, lazy imports and the DynamoDB "
        "calls (floor: create the client + one GetItem);\n  warm call = the same request again in that process, after "
        "the report (a fresh uplink / run id where the event has one)."
    )
    base = next((t for t in targets if t.name == "stack" and not t.error and t.runs), None)
    cold_over: list[str] = []
    unmeasured: list[str] = []  # a function the check could not measure fails the run
    if base:
        stack_ms = median([r["wall_ms"] for r in base.runs])
        fl_cpu = median([r["cpu_ms"] for r in floor.runs])
        stack_cpu = median([r["cpu_ms"] for r in base.runs])
        print(
            f"\nSTACK = {stack_ms:.0f} ms = {stack_ms / fl:.2f}x floor: what the mandated libraries alone cost "
            f"(CPU: {stack_cpu:.0f} ms = {stack_cpu / fl_cpu:.2f}x the floor's {fl_cpu:.0f} ms). Our code's share per "
            "function, in wall time and in CPU time (steadier when other work shares the cores):"
        )
        functions = [t for t in targets if not t.name.startswith("stack") and not t.error and t.runs]
        for t in functions:
            own = median([r["wall_ms"] for r in t.runs]) - stack_ms
            own_cpu = median([r["cpu_ms"] for r in t.runs]) - stack_cpu
            print(
                f"  {t.name:<26} {own:+5.0f} ms over the stack ({own / fl:+.2f}x floor)   "
                f"CPU {own_cpu:+5.0f} ms ({own_cpu / fl_cpu:+.2f}x)"
            )
        rows_by_name = {t.name: t for t in targets}
        print(
            "\nWhat the cold start adds: each run's first request (from process start) less the same request made "
            "again warm in that process, so the request's own work (a password hash, the DynamoDB round trips) "
            "drops out. Over the baseline's same figure: the stack, plus the mandated libraries the request needs "
            f"(checked loaded). Target: +{OWN_TARGET}x floor or less."
        )
        for t in functions:
            libs = LIBRARIES_OF.get(t.name, ())
            baseline = rows_by_name.get(baseline_name(libs))
            missing = [lib for lib in libs if LIBRARY_MODULE[lib] not in t.runs[-1]["loaded"]]
            if missing:
                unmeasured.append(f"{t.name} (does not load {', '.join(missing)})")
                print(f"  {t.name:<26} does not load {', '.join(missing)}: fix LIBRARIES_OF")
                continue
            cold = cold_part(t)
            if baseline is None or baseline.error or not baseline.runs or math.isnan(cold):
                unmeasured.append(f"{t.name} (not measured)")
                print(f"  {t.name:<26} not measured (no warm call, or no baseline)")
                continue
            share = cold - cold_part(baseline)
            share_cpu = cold_part(t, "cpu") - cold_part(baseline, "cpu")
            plain = cold - cold_part(base)
            verdict = "ok" if share / fl <= OWN_TARGET else "OVER"
            if verdict == "OVER":
                cold_over.append(f"{t.name} {share / fl:+.2f}x")
            warm = median([r["warm_ms"] for r in t.runs if r.get("warm_ms") is not None])
            print(
                f"  {t.name:<26} {share:+5.0f} ms ({share / fl:+.2f}x) over {baseline.name:<26} {verdict:<4}  "
                f"CPU {share_cpu:+4.0f} ms ({share_cpu / fl_cpu:+.2f}x)   "
                f"(wall over the stack alone {plain / fl:+.2f}x; warm request {warm:.0f} ms)"
            )
        print(
            f"\nTarget each function's cold start adds <= +{OWN_TARGET}x floor over its baseline: "
            + (f"NOT MET ({', '.join(cold_over + unmeasured)})" if cold_over or unmeasured else "MET")
        )
    for t in everything:
        if t.error:
            print(f"\n{t.name}: ERROR {t.error}")
    for line in skipped:
        print(f"skipped {line}")

    measured = [t for t in targets if not t.error]
    if measured:
        status = "MET" if not over and len(measured) == len(targets) else "NOT MET"
        print(
            f"\nTarget every API function <= {TARGET_RATIO}x floor: {status}"
            + (f" ({', '.join(over)})" if over else "")
        )

    print(
        "\nImport profiles (one extra run each with -X importtime, which inflates times: compare within a run. "
        "Modules loaded through\nimportlib.import_module, like pydantic's lazy `from pydantic import BaseModel`, "
        "are not shown under their importer.)"
    )
    for t in everything:
        if t.error:
            continue
        loaded = t.runs[-1]["loaded"] if t.runs else []
        flagged = [m for m in FLAGGED if m in loaded]
        print(f"\n  {t.name} ({t.label})")
        print("\n".join(profile_lines(t.profile, args.top)))
        if t is not floor:
            print(
                f"    FLAGGED heavy modules loaded: {', '.join(flagged)}"
                if flagged
                else f"    flagged modules ({', '.join(FLAGGED)}): none loaded"
            )
            print(f"    notable packages loaded: {', '.join(m for m in loaded if m not in FLAGGED) or 'none'}")
    fcm_wrong = [
        t.name
        for t in targets
        if not t.name.startswith("stack")
        and t.runs
        and ("firebase_admin" in t.runs[-1]["loaded"]) != (t.name in SENDS_FCM)
    ]
    print(
        f"\nfirebase_admin only in the functions that send ({', '.join(sorted(SENDS_FCM))}): "
        + (f"NOT MET ({', '.join(fcm_wrong)})" if fcm_wrong else "MET")
    )
    failed = any(t.error for t in everything) or bool(skipped) or bool(fcm_wrong) or bool(unmeasured)
    return 1 if failed or (args.strict and over) else 0


if __name__ == "__main__":
    sys.exit(main())
