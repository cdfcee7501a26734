"""Upstream-facing routes: the Mobivisor proxy's added latency and connection reuse, the Microshare cached list.

Part 1, Mobivisor proxy. Each client is its own process, like one warm Lambda instance: it imports
functions/mobivisor/app.py and invokes its handler with a real API Gateway v2 event for
GET /api/v1/mobivisor/devices/123 (JWT check, routing, validation, logging, the upstream call through the
pooled client). The FLOOR is the same process calling the same fake upstream directly with one pooled
httpx client. Added latency = proxy - direct, at p50 and p99, with 1 and 8 clients at once. The fake
Mobivisor (tests/fakes.py, a ThreadingHTTPServer) counts the TCP connections it accepts: connections per
1000 requests show whether the pool is reused (ideal: one per instance, however many requests).

Part 2, Microshare cached device list, in this process (moto's mock_aws, fake Microshare): GET
/api/v1/devices?limit=50 (the Microshare API's) on a warm cache, against a FLOOR of one bare DynamoDB Query of the
same cache partition, and the same request on a cold cache (cleared, untimed, before each request) to show
what the cache saves; upstream calls per request are counted on the fake.

Loopback only; every loop is bounded by a request count and a time cap.

Usage: .venv/bin/python bench/proxy.py [--requests 300] [--list-requests 200] [--max-seconds 150]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

from _benchlib import JWT_SECRET, ROOT, function_env, percentile, quiet_stdout, set_process_env, table

WARMUP = 20
MOBIVISOR_TOKEN = "bench-mobivisor-token"


# ------------------------------------------------------------------ part 1: one client process
def _client_process(mode: str, url: str, requests: int, seconds: float, barrier: Any, results: Any) -> None:
    """One client (one function instance): warm up, wait for the others, then time ``requests`` calls."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the handler's access log lines
    try:
        from localcloud.template import stack as load_stack

        stack = load_stack()
        os.environ.update(function_env(stack.functions["MobivisorFunction"].environment))
        os.environ.update(
            {
                "MOBIVISOR_API_URL": url,
                "MOBIVISOR_API_TOKEN": MOBIVISOR_TOKEN,
                "JWT_SECRET": JWT_SECRET,
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_SERVICE_NAME": "mobivisor",
            }
        )
        if mode == "proxy":
            from moto import mock_aws

            mock_aws().start()  # the token check reads its user's record (once a minute per instance, cached)
            import boto3

            from functions.mobivisor.app import lambda_handler
            from localcloud.apigw import LambdaContext, http_event
            from tests.support import token_for

            stack.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
            os.environ.update(function_env(stack.functions["UsersFunction"].environment))  # to store the user
            token = token_for("user", permissions=("mobivisor:read",))["token"]

            route = next(r for r in stack.functions["MobivisorFunction"].routes if r.method == "GET" and r.params)
            event = http_event(
                "GET",
                "/api/v1/mobivisor/devices/123",
                route=route,
                headers={
                    "authorization": f"Bearer {token}",
                    "accept": "application/json",
                },
            )
            context = LambdaContext("fleetgate-MobivisorFunction")

            def once() -> None:
                result = lambda_handler(event, context)
                if result["statusCode"] != 200:
                    raise RuntimeError(f"proxy answered {result['statusCode']}: {result['body'][:200]}")
        else:
            from fleetgate.core.http import deadline, pooled_client

            client = pooled_client(connect_timeout=5, timeout=10)
            target, headers = f"{url.rstrip('/')}/devices/123", {"Authorization": f"Bearer {MOBIVISOR_TOKEN}"}

            def once() -> None:
                with deadline(10):
                    response = client.get(target, headers=headers)
                    response.json()
                if response.status_code != 200:
                    raise RuntimeError(f"upstream answered {response.status_code}")

        for _ in range(WARMUP):
            once()
        barrier.wait(timeout=120)
        times: list[float] = []
        stop_at = time.monotonic() + seconds
        for _ in range(requests):
            if time.monotonic() > stop_at:
                break
            t0 = time.perf_counter()
            once()
            times.append((time.perf_counter() - t0) * 1000)
        results.put(("ok", times))
    except BaseException as exc:
        try:
            barrier.abort()
        except Exception:
            pass
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def run_clients(mode: str, url: str, clients: int, requests: int, seconds: float) -> list[float]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    procs = [
        ctx.Process(target=_client_process, args=(mode, url, requests, seconds, barrier, results), daemon=True)
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    times: list[float] = []
    try:
        for _ in procs:
            status, value = results.get(timeout=seconds + 180)
            if status != "ok":
                raise SystemExit(f"{mode} client failed: {value}")
            times.extend(value)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return times


def mobivisor_part(args: argparse.Namespace, budget: float) -> list[str]:
    from tests.fakes import FakeMobivisor

    lines = []
    rows = []
    per_phase = max(2.0, budget / 4)
    with FakeMobivisor(MOBIVISOR_TOKEN) as fake:
        for clients in (1, 8):
            measured: dict[str, tuple[list[float], int, int]] = {}
            for mode in ("direct", "proxy"):
                fake.reset_counts()
                times = run_clients(mode, fake.url + "/", clients, args.requests, per_phase)
                served = len(fake.calls())  # warm-up included: connections are opened there too
                measured[mode] = (times, fake.connections, served)
            (direct, d_conns, d_served), (proxy, p_conns, p_served) = measured["direct"], measured["proxy"]
            d50, d99 = percentile(direct, 50), percentile(direct, 99)
            p50, p99 = percentile(proxy, 50), percentile(proxy, 99)
            rows.append(
                [
                    str(clients),
                    str(len(proxy)),
                    f"{d50:.2f}",
                    f"{d99:.2f}",
                    f"{p50:.2f}",
                    f"{p99:.2f}",
                    f"{p50 - d50:.2f}",
                    f"{p99 - d99:.2f}",
                    f"{p50 / d50:.1f}x",
                    f"{1000 * p_conns / p_served:.1f}",
                    f"{1000 * d_conns / d_served:.1f}",
                ]
            )
    lines.append(
        "Mobivisor proxy: GET /api/v1/mobivisor/devices/123, each client a separate process (one warm "
        "function instance), fake Mobivisor on 127.0.0.1"
    )
    lines.append(
        "FLOOR = a direct GET /devices/123 to the same fake from the same kind of process (one pooled httpx client)\n"
    )
    lines.append(
        table(
            [
                "clients",
                "n",
                "direct p50",
                "direct p99",
                "proxy p50",
                "proxy p99",
                "added p50",
                "added p99",
                "p50 x floor",
                "proxy conns/1000",
                "direct conns/1000",
            ],
            rows,
        )
    )
    lines.append(
        "  ms; added = proxy - direct at the same percentile; n = proxy requests timed (all clients); "
        f"conns/1000 = TCP connections the upstream accepted per 1000 requests it served ({WARMUP} "
        "warm-up requests per client included)."
    )
    return lines


# ------------------------------------------------------------------ part 2: Microshare cached device list
def microshare_part(args: argparse.Namespace, budget: float) -> list[str]:
    import botocore.session
    from moto import mock_aws

    from localcloud.template import stack as load_stack
    from tests.fakes import FakeMicroshare

    stack = load_stack()
    set_process_env(stack, endpoint=None)
    calls: list[str] = []
    original = botocore.session.Session.create_client

    def recording(self: Any, service_name: str, *a: Any, **kw: Any) -> Any:
        client = original(self, service_name, *a, **kw)
        if service_name == "dynamodb":
            client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        return client

    botocore.session.Session.create_client = recording  # type: ignore[method-assign]
    fake = FakeMicroshare().start()
    os.environ.update(
        {
            "MICROSHARE_AUTH_URL": fake.url,
            "MICROSHARE_API_URL": fake.url,
            "MICROSHARE_USERNAME": fake.username,
            "MICROSHARE_PASSWORD": fake.password,
            "MICROSHARE_API_KEY": fake.client_id,
        }
    )
    try:
        with mock_aws():
            import boto3

            from fleetgate.core import settings
            from localcloud.lambdas import Functions
            from tests.support import token_for

            settings.reset()
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            stack.create_tables(ddb)
            functions = Functions(stack)
            os.environ.update(function_env(stack.functions["UsersFunction"].environment))  # to store the user
            token = token_for("user", permissions=("microshare:read", "microshare:write"))["token"]
            headers = {"authorization": f"Bearer {token}"}
            path = "/api/v1/devices?limit=50"  # the Microshare API's

            def request() -> None:
                resp = functions.http("GET", path, headers, api="MicroshareApi")
                if resp.status != 200 or len(resp.json()["items"]) != 6:
                    raise SystemExit(f"microshare list answered {resp.status}: {resp.body[:200]!r}")

            def clear() -> None:
                clear = functions.http("POST", "/api/v1/devices/cache/clear", headers, api="MicroshareApi")
                if clear.status != 200:
                    raise SystemExit("cache clear failed")

            def measure(before: Any, n: int, seconds: float) -> tuple[list[float], int, list[str]]:
                times, stop_at, upstream = [], time.monotonic() + seconds, 0
                ddb_calls: list[str] = []
                for i in range(-3, n):
                    if i >= 0 and time.monotonic() > stop_at:
                        break
                    before()
                    fake.reset_counts()
                    calls.clear()
                    t0 = time.perf_counter()
                    request()
                    if i >= 0:
                        times.append((time.perf_counter() - t0) * 1000)
                        upstream += len(fake.calls())
                        ddb_calls = list(calls)
                return times, upstream, ddb_calls

            table_name = stack.physical_name("MicroshareTable")
            request()  # fills the cache

            def floor_query() -> list[float]:
                out, stop_at = [], time.monotonic() + budget / 3
                for i in range(-5, args.list_requests):
                    if i >= 0 and time.monotonic() > stop_at:
                        break
                    t0 = time.perf_counter()
                    ddb.query(
                        TableName=table_name,
                        KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "cache"}},
                        ConsistentRead=True,
                    )
                    if i >= 0:
                        out.append((time.perf_counter() - t0) * 1000)
                return out

            floor = floor_query()
            warm, warm_up, warm_ddb = measure(lambda: None, args.list_requests, budget / 3)
            cold, cold_up, cold_ddb = measure(clear, max(10, args.list_requests // 4), budget / 3)
    finally:
        fake.stop()
        botocore.session.Session.create_client = original  # type: ignore[method-assign]

    fl = percentile(floor, 50)
    rows = []
    for label, times, up, ddb_calls in (
        ("cached (warm cache)", warm, warm_up, warm_ddb),
        ("uncached (cache cleared first)", cold, cold_up, cold_ddb),
    ):
        rows.append(
            [
                label,
                str(len(times)),
                f"{percentile(times, 50):.2f}",
                f"{percentile(times, 99):.2f}",
                f"{percentile(times, 50) / fl:.1f}x",
                f"{up / len(times):.2f}",
                str(len(ddb_calls)),
                ", ".join(ddb_calls),
            ]
        )
    lines = [
        "Microshare: GET /api/v1/devices?limit=50 (Microshare API) (6 devices in 3 clusters), in-process "
        "moto (mock_aws), fake Microshare on 127.0.0.1",
        f"FLOOR = {fl:.2f} ms: p50 of one bare Query of the cache partition (ConsistentRead) through the same "
        f"moto (p99 {percentile(floor, 99):.2f} ms, n={len(floor)})\n",
        table(
            ["request", "n", "p50 ms", "p99 ms", "x floor", "upstream calls/req", "ddb calls", "operations"],
            rows,
            "lrrrrrrl",
        ),
        f"  uncached / cached p50 = {percentile(cold, 50) / percentile(warm, 50):.1f}x; the upstream token "
        "stays cached in the instance, so an uncached read costs one discovery call.",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed proxy/direct requests per client")
    parser.add_argument("--list-requests", type=int, default=200, help="timed Microshare list requests")
    parser.add_argument("--max-seconds", type=float, default=150.0, help="time cap for the timed loops")
    args = parser.parse_args()
    args.requests = max(10, min(args.requests, 5000))
    args.list_requests = max(10, min(args.list_requests, 5000))
    begun = time.monotonic()
    sys.path.insert(0, str(ROOT))
    print(f"Fleetgate upstream routes, python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    for line in mobivisor_part(args, args.max_seconds * 0.6):
        print(line)
    print()
    with quiet_stdout():
        lines = microshare_part(args, args.max_seconds * 0.4)
    for line in lines:
        print(line)
    print(f"\n({time.monotonic() - begun:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
