"""Shared pieces of the Fleetgate benchmarks (dev venv side): paths, environment, stats, seeding, tables.

Nothing here is imported by the measured cold-start processes (those run ``_cold_child.py`` in the
runtime-only venv, with no dev tools at all).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LAYER = ROOT / "layers" / "fleetgate"
STATE = ROOT / ".bench"  # git-ignored

for _p in (str(LAYER), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

REGION = "us-east-1"
JWT_SECRET = "bench-secret-" + "x" * 40
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
PASSWORD = "correct horse battery"


INGEST_KEY_SECRET = "bench-ingest-" + "k" * 40


def function_env(env: dict[str, str]) -> dict[str, str]:
    """A function's template environment with the secrets given in plain text (no Secrets Manager locally)."""
    out = dict(env)
    out.pop("JWT_SECRET_ARN", None)
    out["JWT_SECRET"] = JWT_SECRET
    if "INGEST_KEY_SECRET_ARN" in out:
        out.pop("INGEST_KEY_SECRET_ARN")
        out["INGEST_KEY_SECRET"] = INGEST_KEY_SECRET
    return out


def set_process_env(stack: Any, endpoint: str | None) -> None:
    """Environment for driving the functions in this process (like tests/conftest.py does)."""
    os.environ.update({**FAKE_AWS, "POWERTOOLS_DEV": "false", **function_env(stack.environment())})
    os.environ.pop("JWT_SECRET_ARN", None)
    os.environ["OUTBOUND_ALLOW"] = "loopback"  # like the local cloud: integration test sends reach a loopback sink
    os.environ["ALLOW_REGISTRATION"] = "true"  # like the local cloud: the bench registers its users
    os.environ.pop("INGEST_KEY_SECRET_ARN", None)
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(var, None)
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null: the functions log one JSON line per request to stdout. The
    logging still runs (it is part of the request's cost); only its output is dropped."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


# ------------------------------------------------------------------ statistics
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); exact for the sample, no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return float("nan")
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A plain-text table; ``align`` holds one of l/r per column (default: first left, others right)."""
    rows = [[str(c) for c in r] for r in rows]
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------ driving the API in-process
class Client:
    """Calls routes through localcloud.lambdas.Functions.http: real API Gateway v2 events, template routing."""

    def __init__(self, stack: Any):
        from localcloud.lambdas import Functions

        self.functions = Functions(stack)
        self._streams: Any = None

    def deliver_streams(self) -> int:
        """Hand the waiting DynamoDB stream records to their consumers (the search indexer), as the local cloud
        does: the search index is fed from the resource tables' streams."""
        import boto3

        from localcloud.streams import Streams

        if self._streams is None:
            self._streams = Streams(
                self.functions.stack,
                self.functions.invoke,
                dynamodb=boto3.client("dynamodb", region_name=REGION),
                streams=boto3.client("dynamodbstreams", region_name=REGION),
            )
        return self._streams.drain()

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        headers, body = request_parts(token=token, json_body=json_body, form=form)
        api, path = on_api(path)
        return self.functions.http(method, path, headers, body, api=api)

    def ok(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        resp = self.call(method, path, **kwargs)
        if resp.status != expect:
            raise RuntimeError(f"setup {method} {path}: {resp.status} {resp.body[:300]!r}")
        return resp.json()


def request_parts(
    *, token: str | None = None, json_body: Any = None, form: dict[str, str] | None = None
) -> tuple[dict[str, str], str | None]:
    headers = {"user-agent": "fleetgate-bench", "accept": "application/json"}
    body = None
    if json_body is not None:
        body, headers["content-type"] = json.dumps(json_body), "application/json"
    if form is not None:
        body, headers["content-type"] = urlencode(form), "application/x-www-form-urlencoded"
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers, body


def new_eui() -> str:
    return uuid.uuid4().hex[:16]


def register_user(client: Client, *, admin: bool = False) -> dict[str, str]:
    """A new user (admins through the service, as create-admin does), logged in."""
    tag = uuid.uuid4().hex[:10]
    email, username = f"bench-{tag}@example.com", f"bench_{tag}"
    if admin:
        from fleetgate.users import service

        user_id = service.create_admin(email, username, PASSWORD)[0].id
    else:
        user_id = client.ok(
            "POST", "/api/v1/auth/register", 201, json_body={"email": email, "username": username, "password": PASSWORD}
        )["id"]
    token = client.ok("POST", "/api/v1/auth/login", 200, form={"username": email, "password": PASSWORD})["access_token"]
    return {"id": user_id, "email": email, "username": username, "token": token}


PARTNER_PERMISSIONS = ["mobivisor:read", "mobivisor:write", "microshare:read", "microshare:write"]


def grant_partner_permissions(client: Client, admin: dict[str, str], user: dict[str, str]) -> None:
    """The Mobivisor and Microshare routes need their permissions: ``admin`` grants them to ``user``."""
    body = {"permissions": PARTNER_PERMISSIONS}
    client.ok("PUT", f"/api/v1/users/{user['id']}", 200, token=admin["token"], json_body=body)


def seed_devices_and_labels(client: Client, token: str, *, devices: int, labels: int) -> tuple[list[str], list[str]]:
    device_ids = [
        client.ok(
            "POST",
            "/api/v1/devices",
            201,
            token=token,
            json_body={
                "dev_eui": new_eui(),
                "name": f"bench device {i}",
                "metadata": {"site": "bench", "floor": i % 3},
            },
        )["id"]
        for i in range(devices)
    ]
    label_ids = [
        client.ok(
            "POST",
            "/api/v1/labels",
            201,
            token=token,
            json_body={"name": f"bench-label-{i}-{uuid.uuid4().hex[:6]}", "color": "#00aa88"},
        )["id"]
        for i in range(labels)
    ]
    return device_ids, label_ids


def seed_history(device_id: str, owner_id: str, entries: int) -> None:
    """Device history has no write route (ingest writes it): add entries through the repository."""
    from fleetgate.core.ids import new_id, now_iso
    from fleetgate.devices import repository
    from fleetgate.devices.schemas import DeviceHistoryEntry

    for i in range(entries):
        repository.add_history(
            DeviceHistoryEntry(
                id=new_id(), device_id=device_id, event="up", received_at=now_iso(), data={"fcnt": i, "rssi": -80}
            ),
            owner_id,
        )


class LoopbackSink:
    """A fake HTTP endpoint on 127.0.0.1 for integration test sends (answers 200 with a small JSON body)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = b'{"ok":true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def seed_device_manager(client: Client, token: str, owner_id: str, device_id: str, sink_url: str) -> dict[str, Any]:
    """A function, an integration (to ``sink_url``), a storage with points, a flow over them, and history records."""
    from datetime import datetime, timedelta

    from fleetgate.history import service as history
    from fleetgate.storages import repository as storages

    fn = client.ok(
        "POST",
        "/api/v1/functions",
        201,
        token=token,
        json_body={"name": "bench decoder", "code": "function decodeUplink(m) { return {t: m.data.temperature * 2} }"},
    )
    integration = client.ok(
        "POST",
        "/api/v1/integrations",
        201,
        token=token,
        json_body={
            "name": "bench hook",
            "type": "http",
            "config": {"url": sink_url, "headers": {"Authorization": "Bearer x"}},
        },
    )
    storage = client.ok("POST", "/api/v1/storages", 201, token=token, json_body={"name": "bench series"})
    flow = client.ok(
        "POST",
        "/api/v1/flows",
        201,
        token=token,
        json_body={
            "name": "bench flow",
            "nodes": [
                {"id": "d", "type": "device", "device_id": device_id},
                {"id": "f", "type": "function", "function_id": fn["id"]},
                {"id": "i", "type": "integration", "integration_id": integration["id"]},
                {"id": "s", "type": "storage", "storage_id": storage["id"]},
            ],
            "edges": [{"source": "d", "target": "f"}, {"source": "f", "target": "i"}, {"source": "f", "target": "s"}],
        },
    )
    now = datetime.now(UTC)
    st = storages.get(storage["id"])
    for i in range(20):
        storages.write_point(st, device_id, {"t": i}, now - timedelta(minutes=i))
        started = now - timedelta(minutes=i)
        history.record_function_run(
            function_id=fn["id"],
            owner_id=owner_id,
            status="success",
            started=started,
            duration_ms=0.9,
            input={"data": {"temperature": i}},
            output={"t": 2 * i},
        )
        ih = history.record_integration_call(
            integration_id=integration["id"],
            owner_id=owner_id,
            status="success",
            started=started,
            duration_ms=3.2,
            request={"method": "POST"},
            response={"status_code": 200},
        )
        fh = history.record_flow_run(
            flow_id=flow["id"],
            owner_id=owner_id,
            status="success",
            started=started,
            duration_ms=12.0,
            trigger={"device_id": device_id},
        )
    return {
        "function": fn["id"],
        "integration": integration["id"],
        "storage": storage["id"],
        "flow": flow["id"],
        "flow_def": flow,
        "integration_history": ih.id,
        "flow_history": fh.id,
    }


def on_api(path: str) -> tuple[str | None, str]:
    """``MicroshareApi:/api/v1/devices`` (a route of an HTTP API other than the main one, as the tests key them,
    tests.support.route_path) → that API and its path; a plain path is the main API's."""
    name, sep, rest = path.partition(":")
    if sep and rest.startswith("/") and not name.startswith("/"):
        return name, rest
    return None, path


def route_key(route: Any, main_api: str) -> tuple[str, str]:
    """(method, path) of a template route, its path prefixed ``<Api>:`` when it is not on the main HTTP API."""
    return route.method, route.path if route.api == main_api else f"{route.api}:{route.path}"


# ------------------------------------------------------------------ an HTTP sink
class Sink:
    """An HTTP sink on 127.0.0.1 (another thread) counting deliveries; its first ``fail_first`` (or, set later,
    ``failures``) POSTs answer 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.count, self.failures, self.lock = 0, fail_first, threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink.lock:
                    failing = sink.failures > 0
                    sink.failures -= int(failing)
                    sink.count += int(not failing)
                self.send_response(503 if failing else 200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
