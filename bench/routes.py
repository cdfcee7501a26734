"""Warm, in-process latency of every route in template.yaml, as a ratio of a bare GetItem floor.

DynamoDB is moto's ``mock_aws``, in this process (no HTTP server, no network): of the two ways to run
moto it adds the least of its own, so more of what is measured is our code. Every route is driven through
localcloud.lambdas.Functions.http with real API Gateway v2 events, after a few untimed warm-up requests
(so the function is warm: imports done, clients and model classes built). Per route it records wall time,
the DynamoDB calls each request makes (botocore's before-call/after-call events on every DynamoDB
client, as tests/conftest.py counts them) and the time spent inside those calls.

Usage: .venv/bin/python bench/routes.py [--requests 200] [--route-seconds 6] [--max-seconds 240]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from _benchlib import (
    PARTNER_PERMISSIONS,
    PASSWORD,
    REGION,
    Client,
    LoopbackSink,
    grant_partner_permissions,
    median,
    new_eui,
    on_api,
    percentile,
    quiet_stdout,
    register_user,
    request_parts,
    route_key,
    seed_device_manager,
    seed_devices_and_labels,
    seed_history,
    set_process_env,
    table,
)
from _engine_scenarios import engine_scenarios
from _estates_scenarios import estates_scenarios
from _financing_scenarios import financing_scenarios

from localcloud.template import stack as load_stack

STACK = load_stack()
set_process_env(STACK, endpoint=None)  # before any handler module is imported; mock_aws needs no endpoint

import botocore.session  # noqa: E402


# ------------------------------------------------------------------ DynamoDB call recording
class Recorder:
    """Each DynamoDB call of the current request: operation name and milliseconds inside the client."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self._started: list[float] = []

    def reset(self) -> None:
        self.calls, self._started = [], []

    def before(self, model: Any, **_: Any) -> None:
        self._started.append(time.perf_counter())

    def after(self, model: Any, **_: Any) -> None:
        started = self._started.pop() if self._started else time.perf_counter()
        self.calls.append((model.name, (time.perf_counter() - started) * 1000))


RECORDER = Recorder()
_original_create_client = botocore.session.Session.create_client


def _recording_create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
    client = _original_create_client(self, service_name, *args, **kwargs)
    if service_name == "dynamodb":
        client.meta.events.register("before-call.dynamodb", RECORDER.before)
        client.meta.events.register("after-call.dynamodb", RECORDER.after)
    return client


botocore.session.Session.create_client = _recording_create_client  # type: ignore[method-assign]


# ------------------------------------------------------------------ scenarios
@dataclass
class Req:
    path: str
    token: str | None = None
    json_body: Any = None
    form: dict[str, str] | None = None
    ctx: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    method: str
    route: str  # the template's path, e.g. /api/v1/devices/{device_id}
    make: Callable[[int], Req]  # untimed: builds request i (and any state it needs)
    expect: int = 200
    variant: str = ""
    after: Callable[[Req, Any], None] | None = None  # untimed: undo what the request did

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.route

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


@dataclass
class Result:
    scenario: Scenario
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this thread's CPU: steady when other work shares the cores
    ddb_ms: list[float] = field(default_factory=list)
    sequences: Counter = field(default_factory=Counter)
    error: str | None = None
    capped: bool = False


def uniq() -> str:
    return uuid.uuid4().hex[:10]


def build_world(client: Client) -> dict[str, Any]:
    user = register_user(client)
    admin = register_user(client, admin=True)
    grant_partner_permissions(client, admin, user)
    devices, labels = seed_devices_and_labels(client, user["token"], devices=20, labels=6)
    seed_history(devices[0], user["id"], entries=20)
    client.ok(
        "PUT", f"/api/v1/devices/{devices[0]}/labels", 200, token=user["token"], json_body={"label_ids": labels[:2]}
    )
    sink = LoopbackSink()
    dm = seed_device_manager(client, user["token"], user["id"], devices[0], sink.url)
    return {"user": user, "admin": admin, "devices": devices, "labels": labels, "sink": sink, **dm}


def scenarios(client: Client, w: dict[str, Any]) -> list[Scenario]:
    t, ta = w["user"]["token"], w["admin"]["token"]
    d, lb = w["devices"], w["labels"]

    def new_device(_: int) -> Req:
        created = client.ok("POST", "/api/v1/devices", 201, token=t, json_body={"dev_eui": new_eui(), "name": "gone"})
        return Req(f"/api/v1/devices/{created['id']}", t)

    def new_label(_: int) -> Req:
        created = client.ok("POST", "/api/v1/labels", 201, token=t, json_body={"name": f"gone-{uniq()}"})
        return Req(f"/api/v1/labels/{created['id']}", t)

    def add_membership(_: int) -> Req:
        client.call("POST", f"/api/v1/labels/{lb[5]}/devices/{d[4]}", token=t)
        return Req(f"/api/v1/labels/{lb[5]}/devices/{d[4]}", t)

    def delete_created(kind: str) -> Callable[[Req, Any], None]:
        def undo(_: Req, resp: Any) -> None:
            client.ok("DELETE", f"/api/v1/{kind}/{resp.json()['id']}", 204, token=t)

        return undo

    def token_record_read(_: int) -> Req:
        """The same request when this instance's copy of the caller's record has expired (once per user, instance
        and minute): the token check reads the record (one GetItem)."""
        from fleetgate.users import authentication as users

        users._known().clear()
        return Req(f"/api/v1/devices/{d[0]}", t)

    changer = register_user(client)
    passwords = [PASSWORD, PASSWORD + "-2"]  # [current, next]: swapped by every change

    def change_password(_: int) -> Req:  # a fresh token each time: a change revokes the ones before it
        old, new = passwords
        passwords.reverse()
        login = client.ok("POST", "/api/v1/auth/login", 200, form={"username": changer["email"], "password": old})
        return Req(
            "/api/v1/auth/password", login["access_token"], json_body={"current_password": old, "new_password": new}
        )

    return [
        Scenario(
            "POST",
            "/api/v1/auth/register",
            lambda i: Req(
                "/api/v1/auth/register",
                json_body={"email": f"r-{(u := uniq())}@example.com", "username": f"r_{u}", "password": PASSWORD},
            ),
            201,
        ),
        Scenario(
            "POST",
            "/api/v1/auth/login",
            lambda i: Req("/api/v1/auth/login", form={"username": w["user"]["email"], "password": PASSWORD}),
        ),
        Scenario("POST", "/api/v1/auth/password", change_password),
        *users_scenarios(client, w),
        Scenario("GET", "/api/v1/devices", lambda i: Req("/api/v1/devices", t)),
        Scenario("GET", "/api/v1/devices", lambda i: Req("/api/v1/devices", ta), variant="admin"),
        Scenario(
            "POST",
            "/api/v1/devices",
            lambda i: Req(
                "/api/v1/devices",
                t,
                json_body={"dev_eui": new_eui(), "name": f"bench {i}", "metadata": {"site": "bench"}},
            ),
            201,
            after=delete_created("devices"),
        ),
        Scenario("GET", "/api/v1/devices/history", lambda i: Req("/api/v1/devices/history", t)),
        Scenario("GET", "/api/v1/devices/history", lambda i: Req("/api/v1/devices/history", ta), variant="admin"),
        Scenario("GET", "/api/v1/devices/{device_id}", lambda i: Req(f"/api/v1/devices/{d[0]}", t)),
        Scenario("GET", "/api/v1/devices/{device_id}", token_record_read, variant="token check reads"),
        Scenario(
            "PUT",
            "/api/v1/devices/{device_id}",
            lambda i: Req(f"/api/v1/devices/{d[1]}", t, json_body={"name": f"renamed {i}"}),
        ),
        Scenario("DELETE", "/api/v1/devices/{device_id}", new_device, 204),
        Scenario("GET", "/api/v1/devices/{device_id}/history", lambda i: Req(f"/api/v1/devices/{d[0]}/history", t)),
        Scenario("GET", "/api/v1/devices/{device_id}/labels", lambda i: Req(f"/api/v1/devices/{d[0]}/labels", t)),
        Scenario(
            "PUT",
            "/api/v1/devices/{device_id}/labels",
            lambda i: Req(
                f"/api/v1/devices/{d[2]}/labels",
                t,
                json_body={"label_ids": [lb[0], lb[1]] if i % 2 else [lb[1], lb[2]]},
            ),
        ),
        Scenario("GET", "/api/v1/labels", lambda i: Req("/api/v1/labels", t)),
        Scenario("GET", "/api/v1/labels", lambda i: Req("/api/v1/labels", ta), variant="admin"),
        Scenario(
            "POST",
            "/api/v1/labels",
            lambda i: Req("/api/v1/labels", t, json_body={"name": f"new-{uniq()}", "color": "#112233"}),
            201,
            after=delete_created("labels"),
        ),
        Scenario("GET", "/api/v1/labels/{label_id}", lambda i: Req(f"/api/v1/labels/{lb[0]}", t)),
        Scenario(
            "PUT",
            "/api/v1/labels/{label_id}",
            lambda i: Req(f"/api/v1/labels/{lb[3]}", t, json_body={"name": f"renamed-{i}-{uniq()}"}),
        ),
        Scenario("DELETE", "/api/v1/labels/{label_id}", new_label, 204),
        Scenario(
            "POST",
            "/api/v1/labels/{label_id}/devices/{device_id}",
            lambda i: Req(f"/api/v1/labels/{lb[4]}/devices/{d[3]}", t),
            201,
            after=lambda req, resp: client.ok("DELETE", req.path, 204, token=t),
        ),
        Scenario("DELETE", "/api/v1/labels/{label_id}/devices/{device_id}", add_membership, 204),
        *device_manager_scenarios(client, w, delete_created),
        *upstream_scenarios(client, w),
    ]


def users_scenarios(client: Client, w: dict[str, Any]) -> list[Scenario]:
    """The admins' user routes (the admin's token; the bench user as the subject)."""
    ta, uid = w["admin"]["token"], w["user"]["id"]
    grants = PARTNER_PERMISSIONS

    def new_user(_: int) -> Req:
        tag = uniq()
        body = {"email": f"gone-{tag}@example.com", "username": f"gone_{tag}", "password": PASSWORD}
        return Req(f"/api/v1/users/{client.ok('POST', '/api/v1/users', 201, token=ta, json_body=body)['id']}", ta)

    def create_body(_: int) -> Req:
        tag = uniq()
        return Req(
            "/api/v1/users",
            ta,
            json_body={"email": f"n-{tag}@example.com", "username": f"n_{tag}", "password": PASSWORD},
        )

    return [
        Scenario("GET", "/api/v1/users", lambda i: Req("/api/v1/users", ta)),
        Scenario(
            "POST",
            "/api/v1/users",
            create_body,
            201,
            after=lambda req, resp: client.ok("DELETE", f"/api/v1/users/{resp.json()['id']}", 204, token=ta),
        ),
        Scenario("GET", "/api/v1/users/{user_id}", lambda i: Req(f"/api/v1/users/{uid}", ta)),
        Scenario(
            "PUT",
            "/api/v1/users/{user_id}",
            lambda i: Req(f"/api/v1/users/{uid}", ta, json_body={"permissions": grants}),
        ),
        Scenario("DELETE", "/api/v1/users/{user_id}", new_user, 204),
    ]


def device_manager_scenarios(
    client: Client, w: dict[str, Any], delete_created: Callable[[str], Callable[[Req, Any], None]]
) -> list[Scenario]:
    """Functions, integrations, flows, storages, search."""
    t, ta = w["user"]["token"], w["admin"]["token"]
    fid, iid, fl, sid = w["function"], w["integration"], w["flow"], w["storage"]
    code = "function decodeUplink(m) { return {t: m.data.temperature * %d} }"

    def new(kind: str, body: Callable[[], dict[str, Any]]) -> Callable[[int], Req]:
        def make(_: int) -> Req:
            created = client.ok("POST", f"/api/v1/{kind}", 201, token=t, json_body=body())
            return Req(f"/api/v1/{kind}/{created['id']}", t)

        return make

    fn_body = lambda: {"name": f"fn {uniq()}", "code": code % 3}  # noqa: E731
    int_body = lambda: {"name": f"hook {uniq()}", "type": "http", "config": {"url": "https://example.com/x"}}  # noqa: E731
    st_body = lambda: {"name": f"st {uniq()}", "retention_days": 7}  # noqa: E731
    flow_body = lambda: {**{k: w["flow_def"][k] for k in ("nodes", "edges")}, "name": f"flow {uniq()}"}  # noqa: E731
    f, i = f"/api/v1/functions/{fid}", f"/api/v1/integrations/{iid}"
    fw, s = f"/api/v1/flows/{fl}", f"/api/v1/storages/{sid}"
    return [
        Scenario("GET", "/api/v1/functions", lambda n: Req("/api/v1/functions", t)),
        Scenario("GET", "/api/v1/functions", lambda n: Req("/api/v1/functions", ta), variant="admin"),
        Scenario(
            "POST",
            "/api/v1/functions",
            lambda n: Req("/api/v1/functions", t, json_body=fn_body()),
            201,
            after=delete_created("functions"),
        ),
        Scenario("GET", "/api/v1/functions/history", lambda n: Req("/api/v1/functions/history", t)),
        Scenario("GET", "/api/v1/functions/history", lambda n: Req("/api/v1/functions/history", ta), variant="admin"),
        Scenario("GET", "/api/v1/functions/{function_id}", lambda n: Req(f, t)),
        Scenario("PUT", "/api/v1/functions/{function_id}", lambda n: Req(f, t, json_body={"code": code % (n + 10)})),
        Scenario("DELETE", "/api/v1/functions/{function_id}", new("functions", fn_body), 204),
        Scenario("GET", "/api/v1/functions/{function_id}/history", lambda n: Req(f"{f}/history", t)),
        Scenario("GET", "/api/v1/functions/{function_id}/versions", lambda n: Req(f"{f}/versions?limit=20", t)),
        Scenario(
            "POST",
            "/api/v1/functions/{function_id}/test",
            lambda n: Req(f"{f}/test", t, json_body={"payload": {"data": {"temperature": n}}}),
        ),
        Scenario("GET", "/api/v1/integrations", lambda n: Req("/api/v1/integrations", t)),
        Scenario(
            "POST",
            "/api/v1/integrations",
            lambda n: Req("/api/v1/integrations", t, json_body=int_body()),
            201,
            after=delete_created("integrations"),
        ),
        Scenario("GET", "/api/v1/integrations/history", lambda n: Req("/api/v1/integrations/history", t)),
        Scenario(
            "GET", "/api/v1/integrations/history", lambda n: Req("/api/v1/integrations/history", ta), variant="admin"
        ),
        Scenario("GET", "/api/v1/integrations/{integration_id}", lambda n: Req(i, t)),
        Scenario("PUT", "/api/v1/integrations/{integration_id}", lambda n: Req(i, t, json_body={"name": f"hook {n}"})),
        Scenario("DELETE", "/api/v1/integrations/{integration_id}", new("integrations", int_body), 204),
        Scenario("GET", "/api/v1/integrations/{integration_id}/history", lambda n: Req(f"{i}/history", t)),
        Scenario(
            "GET",
            "/api/v1/integrations/{integration_id}/history/{history_id}",
            lambda n: Req(f"{i}/history/{w['integration_history']}", t),
        ),
        Scenario("POST", "/api/v1/integrations/{integration_id}/test", lambda n: Req(f"{i}/test", t, json_body={})),
        Scenario("GET", "/api/v1/flows", lambda n: Req("/api/v1/flows", t)),
        Scenario(
            "POST",
            "/api/v1/flows",
            lambda n: Req("/api/v1/flows", t, json_body=flow_body()),
            201,
            after=delete_created("flows"),
        ),
        Scenario("GET", "/api/v1/flows/history", lambda n: Req("/api/v1/flows/history", t)),
        Scenario("GET", "/api/v1/flows/history", lambda n: Req("/api/v1/flows/history", ta), variant="admin"),
        Scenario("GET", "/api/v1/flows/{flow_id}", lambda n: Req(fw, t)),
        Scenario("PUT", "/api/v1/flows/{flow_id}", lambda n: Req(fw, t, json_body={"enabled": n % 2 == 0})),
        Scenario(
            "PUT",
            "/api/v1/flows/{flow_id}",
            lambda n: Req(
                fw, t, json_body={"nodes": w["flow_def"]["nodes"], "edges": w["flow_def"]["edges"][: 2 + n % 2]}
            ),
            variant="graph",
        ),
        Scenario("DELETE", "/api/v1/flows/{flow_id}", new("flows", flow_body), 204),
        Scenario("GET", "/api/v1/flows/{flow_id}/history", lambda n: Req(f"{fw}/history", t)),
        Scenario(
            "GET", "/api/v1/flows/{flow_id}/history/{history_id}", lambda n: Req(f"{fw}/history/{w['flow_history']}", t)
        ),
        Scenario("GET", "/api/v1/storages", lambda n: Req("/api/v1/storages", t)),
        Scenario(
            "POST",
            "/api/v1/storages",
            lambda n: Req("/api/v1/storages", t, json_body=st_body()),
            201,
            after=delete_created("storages"),
        ),
        Scenario("GET", "/api/v1/storages/{storage_id}", lambda n: Req(s, t)),
        Scenario("PUT", "/api/v1/storages/{storage_id}", lambda n: Req(s, t, json_body={"retention_days": 10 + n % 5})),
        Scenario("DELETE", "/api/v1/storages/{storage_id}", new("storages", st_body), 204),
        Scenario("GET", "/api/v1/storages/{storage_id}/data", lambda n: Req(f"{s}/data?limit=20", t)),
        Scenario("GET", "/api/v1/search", lambda n: Req("/api/v1/search?query=bench", t)),
    ]


def upstream_scenarios(client: Client, w: dict[str, Any]) -> list[Scenario]:
    """Mobivisor, Microshare and /health, against the fake upstreams of tests/fakes.py (on loopback)."""
    t, ta = w["user"]["token"], w["admin"]["token"]
    mobivisor, microshare = w["fakes"]
    p = "MicroshareApi:/api/v1"  # the Microshare API's own routes (bench._benchlib.on_api)
    location = ["Acme", "Leeds", "Bench Hall", "BENCH-REF", "Internal", "Bait/Lured"]
    points = [
        {"id": "b1", "reference": "ACME-01", "customer": "Acme", "site": "Leeds", "area": "Kitchen"},
        {"id": "b2", "reference": "BENCH-02", "name": "Acme - Bench Yard"},
    ]

    def doomed_mobivisor_device(_: int) -> Req:
        device_id = f"bench-{uniq()}"
        mobivisor.devices[device_id] = {"id": device_id, "name": "doomed"}
        return Req(f"/api/v1/mobivisor/devices/{device_id}", ta)

    def new_microshare_device(guid: str) -> None:
        client.ok("POST", f"{p}/devices", 201, token=t, json_body={"meta": {"location": location}, "guid": guid})

    def doomed_microshare_device(_: int) -> Req:
        guid = f"doomed-{uniq()}"
        new_microshare_device(guid)
        return Req(f"{p}/devices/{guid}", t)

    def undo_create(_: Req, resp: Any) -> None:
        client.ok("DELETE", f"{p}/devices/{resp.json()['guid']}", 204, token=t)

    def rewarm(_: Req, __: Any) -> None:
        client.ok("GET", f"{p}/devices", 200, token=t)

    return [
        Scenario("GET", "/api/v1/mobivisor/devices", lambda i: Req("/api/v1/mobivisor/devices", t)),
        Scenario("GET", "/api/v1/mobivisor/devices/{device_id}", lambda i: Req("/api/v1/mobivisor/devices/123", t)),
        Scenario("DELETE", "/api/v1/mobivisor/devices/{device_id}", doomed_mobivisor_device),
        Scenario(
            "POST",
            f"{p}/auth/login",
            lambda i: Req(
                f"{p}/auth/login", json_body={"username": microshare.username, "password": microshare.password}
            ),
        ),
        Scenario("GET", f"{p}/auth/status", lambda i: Req(f"{p}/auth/status", t)),
        Scenario("GET", "MicroshareApi:/health", lambda i: Req("MicroshareApi:/health")),
        Scenario("GET", "MicroshareApi:/health/microshare", lambda i: Req("MicroshareApi:/health/microshare")),
        Scenario("GET", f"{p}/status", lambda i: Req(f"{p}/status", t)),
        Scenario("GET", f"{p}/devices/clusters", lambda i: Req(f"{p}/devices/clusters", t)),
        Scenario("GET", f"{p}/devices/clusters/{{cluster_id}}", lambda i: Req(f"{p}/devices/clusters/trap-acme", t)),
        Scenario("GET", f"{p}/devices/discovery", lambda i: Req(f"{p}/devices/discovery", t)),
        Scenario("GET", f"{p}/devices/cache/stats", lambda i: Req(f"{p}/devices/cache/stats", t)),
        Scenario("POST", f"{p}/devices/cache/clear", lambda i: Req(f"{p}/devices/cache/clear", t), after=rewarm),
        Scenario(
            "GET",
            f"{p}/devices/performance/benchmark",
            lambda i: Req(f"{p}/devices/performance/benchmark?iterations=1", t),
        ),
        Scenario("GET", f"{p}/devices", lambda i: Req(f"{p}/devices?limit=50", t)),
        Scenario(
            "POST",
            f"{p}/devices",
            lambda i: Req(f"{p}/devices", t, json_body={"meta": {"location": location}, "guid": f"bench-{uniq()}"}),
            201,
            after=undo_create,
        ),
        Scenario("GET", f"{p}/devices/{{device_id}}", lambda i: Req(f"{p}/devices/a-1", t)),
        Scenario(
            "PUT",
            f"{p}/devices/{{device_id}}",
            lambda i: Req(f"{p}/devices/a-1", t, json_body={"status": "maintenance" if i % 2 else "active"}),
        ),
        Scenario("DELETE", f"{p}/devices/{{device_id}}", doomed_microshare_device, 204),
        Scenario("GET", f"{p}/erp/status", lambda i: Req(f"{p}/erp/status", t)),
        Scenario(
            "POST", f"{p}/erp/inspection-points", lambda i: Req(f"{p}/erp/inspection-points", t, json_body=points)
        ),
        Scenario("GET", f"{p}/erp/discovery", lambda i: Req(f"{p}/erp/discovery", t)),
        Scenario("GET", f"{p}/erp/mapping", lambda i: Req(f"{p}/erp/mapping", t)),
        Scenario("GET", f"{p}/erp/unmapped", lambda i: Req(f"{p}/erp/unmapped", t)),
        # the first (warm-up) run creates the pending device; every timed run finds nothing left to do
        Scenario("POST", f"{p}/erp/sync", lambda i: Req(f"{p}/erp/sync", t)),
        Scenario("GET", "/health", lambda i: Req("/health")),
    ]


# ------------------------------------------------------------------ measuring
def run(client: Client, sc: Scenario, *, requests: int, seconds: float, warmup: int = 3) -> Result:
    res = Result(sc)
    started = time.monotonic()
    for i in range(-warmup, requests):
        if i > 0 and time.monotonic() - started > seconds:  # at least one timed request per route
            res.capped = True
            break
        req = sc.make(i)
        headers, body = request_parts(token=req.token, json_body=req.json_body, form=req.form)
        headers.update(req.ctx.get("headers") or {})  # e.g. ingest's X-API-Key
        RECORDER.reset()
        t0, c0 = time.perf_counter(), time.thread_time()
        api, path = on_api(req.path)
        resp = client.functions.http(sc.method, path, headers, body, api=api)
        wall, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        calls = list(RECORDER.calls)
        if resp.status != sc.expect:
            res.error = f"status {resp.status} (expected {sc.expect}): {resp.body[:300].decode(errors='replace')}"
            return res
        if sc.after:
            sc.after(req, resp)
        if i % 20 == 0:  # untimed, as the local cloud's stream mappings keep up: the search index stays current
            client.deliver_streams()
        if i < 0:
            continue
        res.wall_ms.append(wall)
        res.cpu_ms.append(cpu)
        res.ddb_ms.append(sum(ms for _, ms in calls))
        res.sequences[tuple(op for op, _ in calls)] += 1
    return res


def floor_getitem(user_id: str, requests: int, seconds: float) -> tuple[list[float], list[float]]:
    import boto3

    ddb = boto3.client("dynamodb", region_name=REGION)
    key = {"TableName": STACK.physical_name("UsersTable"), "Key": {"id": {"S": user_id}}}
    out: list[float] = []
    cpu: list[float] = []
    started = time.monotonic()
    for i in range(-5, requests):
        if i >= 0 and time.monotonic() - started > seconds:
            break
        t0, c0 = time.perf_counter(), time.thread_time()
        item = ddb.get_item(**key)
        ms, cpu_ms = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        if "Item" not in item:
            raise SystemExit("floor GetItem found no item")
        if i >= 0:
            out.append(ms)
            cpu.append(cpu_ms)
    return out, cpu


def describe(sequences: Counter) -> tuple[str, str]:
    """Calls per request and operations, from the commonest sequence (others noted)."""
    if not sequences:
        return "0", "-"
    common, _ = sequences.most_common(1)[0]
    counts = Counter(common)
    ops = ", ".join(f"{op}" + (f" x{n}" if n > 1 else "") for op, n in counts.items()) or "none"
    calls = str(len(common))
    if len(sequences) > 1:
        lengths = sorted({len(s) for s in sequences})
        calls = f"{lengths[0]}-{lengths[-1]}" if lengths[0] != lengths[-1] else calls
        ops += f" (+{len(sequences) - 1} other sequence{'s' if len(sequences) > 2 else ''})"
    return calls, ops


@contextlib.contextmanager
def _stopping(*servers: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def run_all(args: argparse.Namespace, begun: float) -> tuple[list[Result], list[float], list, list]:
    """Set up moto and the data, measure the floor, then every route. Returns what main() prints."""
    import boto3
    from moto import mock_aws

    from fleetgate.core import settings
    from tests.fakes import FakeMicroshare, FakeMobivisor

    mobivisor, microshare = FakeMobivisor("bench-token").start(), FakeMicroshare().start()
    os.environ.update(
        {
            "MOBIVISOR_API_URL": mobivisor.url,
            "MOBIVISOR_API_TOKEN": "bench-token",
            "MICROSHARE_AUTH_URL": microshare.url,
            "MICROSHARE_API_URL": microshare.url,
            "MICROSHARE_USERNAME": microshare.username,
            "MICROSHARE_PASSWORD": microshare.password,
            "MICROSHARE_API_KEY": microshare.client_id,
        }
    )
    settings.reset()
    with mock_aws(), _stopping(mobivisor, microshare):
        STACK.create_tables(boto3.client("dynamodb", region_name=REGION))
        client = Client(STACK)
        world = {**build_world(client), "fakes": (mobivisor, microshare)}
        client.deliver_streams()  # the search index of what setup created
        plan = (
            scenarios(client, world)
            + engine_scenarios(client, world, Scenario, Req)
            + estates_scenarios(client, Scenario, Req)
            + financing_scenarios(client, Scenario, Req)
        )
        floor = floor_getitem(world["user"]["id"], args.requests, args.route_seconds)

        known = {sc.key for sc in plan}
        template_routes = [route_key(r, STACK.apis[0]) for fn in STACK.functions.values() for r in fn.routes]
        ordered = [sc for key in template_routes for sc in plan if sc.key == key]
        missing = [key for key in template_routes if key not in known]
        stale = sorted(known - set(template_routes))

        results: list[Result] = []
        for n, sc in enumerate(ordered):
            remaining = args.max_seconds - (time.monotonic() - begun)
            budget = min(args.route_seconds, max(0.5, remaining / (len(ordered) - n)))
            results.append(run(client, sc, requests=args.requests, seconds=budget))
        world["sink"].close()
    return results, floor, missing, stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route (after 3 warm-up)")
    parser.add_argument("--route-seconds", type=float, default=6.0, help="time cap per route (timed part)")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="time cap for the whole run")
    parser.add_argument("--heavy-calls", type=int, default=4, help="flag routes making more DynamoDB calls than this")
    args = parser.parse_args()
    args.requests = max(1, min(args.requests, 10_000))
    begun = time.monotonic()

    with quiet_stdout():  # the access log lines of every request; the report is printed afterwards
        results, (floor, floor_cpu), missing, stale = run_all(args, begun)
    fl, fl_cpu = percentile(floor, 50), percentile(floor_cpu, 50)

    # ---------------------------------------------------------------- print
    print(
        f"Fleetgate warm route latency: in-process moto (mock_aws), Functions.http with API Gateway v2 events, "
        f"up to {args.requests} requests per route after 3 warm-up, python {sys.version.split()[0]}"
    )
    print(
        f"FLOOR = {fl:.2f} ms: p50 of a bare GetItem through the same moto (p99 {percentile(floor, 99):.2f} ms, "
        f"n={len(floor)}; CPU {fl_cpu:.2f} ms)\n"
    )
    rows, flagged = [], []
    for r in results:
        sc = r.scenario
        if r.error:
            rows.append([sc.label, "0", "ERROR", "", "", "", "", "", "", r.error[:80]])
            continue
        calls, ops = describe(r.sequences)
        p50 = percentile(r.wall_ms, 50)
        app = median([w - d for w, d in zip(r.wall_ms, r.ddb_ms, strict=True)])
        n_calls = max(len(s) for s in r.sequences)
        mark = ""
        if any(op in ("Scan", "ExecuteStatement") for s in r.sequences for op in s):
            mark = "SCAN"
        elif n_calls > args.heavy_calls:
            mark = "MANY"
        if mark:
            flagged.append(f"{sc.label}: {calls} DynamoDB calls ({ops})")
        rows.append(
            [
                sc.label,
                f"{len(r.wall_ms)}{'*' if r.capped else ''}",
                f"{p50:.2f}",
                f"{percentile(r.wall_ms, 99):.2f}",
                f"{p50 / fl:.1f}x",
                f"{percentile(r.cpu_ms, 50) / fl_cpu:.1f}x",
                f"{app:.2f}",
                f"{median(r.ddb_ms):.2f}",
                calls + (f" {mark}" if mark else ""),
                ops,
            ]
        )
    print(
        table(
            ["route", "n", "p50 ms", "p99 ms", "x floor", "cpu x", "app ms", "ddb ms", "calls", "operations"],
            rows,
            "lrrrrrrrll",
        )
    )
    print(
        "  x floor = p50 / floor p50; cpu x = the same of this thread's CPU time (the request's work, moto's "
        "included, without\n  the waits of a shared machine: compare runs by it).  ddb ms = median time inside "
        "DynamoDB client calls (botocore + moto); "
        "app ms = median of the rest\n  (our code, Powertools, pydantic, PynamoDB, the local API Gateway "
        "event).  calls = DynamoDB calls per request.  * = stopped by the time cap."
    )
    if flagged:
        print(f"\nRoutes over {args.heavy_calls} DynamoDB calls per request, or scanning:")
        for line in flagged:
            print(f"  {line}")
    for method, path in missing:
        print(f"no scenario for {method} {path}: add one to bench/routes.py")
    for method, path in stale:
        print(f"scenario for {method} {path}, which is not in template.yaml")
    errors = [r for r in results if r.error]
    for r in errors:
        print(f"ERROR {r.scenario.label}: {r.error}")
    print(f"\n({time.monotonic() - begun:.0f} s)")
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
