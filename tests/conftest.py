"""Shared fixtures. The environment is set here, before any handler module is imported.

- ``aws``: a fresh in-process moto account with every table and queue of template.yaml.
- ``api``: calls routes through the same API Gateway v2 events and routing the local cloud uses, then delivers the
  DynamoDB stream records of what they wrote to the stream consumers (the search indexer), as the local cloud does.
- DynamoDB calls are recorded per test through botocore's ``before-call`` event; any Scan fails the test.
- Every test's captured output and logs are scanned for the passwords, tokens, keys and PINs it sent through
  ``api.call`` (or got from ``token_for``): a hit fails the test, whatever else it asserted.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest

from tests.support import OBSERVED, RECORDER, SENT_SECRETS, STACK, leaked_secrets, remember_secret, remember_secrets_in

pytest_plugins = ["tests.financing_support"]  # the financing tests' fixtures (fcm, staff, no_secrets_in_logs)

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Fleetgate",
        "POWERTOOLS_DEV": "false",
        **STACK.environment(),
        # the rate-limit counters serve the estates and financing routes, not merged yet: no function sets it
        "RATE_LIMITS_TABLE": STACK.physical_name("RateLimitsTable"),
        "STAGE": "test",
        "JWT_SECRET": "test-secret-" + "x" * 32,
        "INGEST_KEY_SECRET": "test-ingest-" + "y" * 32,
        "OUTBOUND_ALLOW": "loopback",  # like the local cloud: integrations may call the tests' fake sinks
        "ALLOW_REGISTRATION": "true",  # like the local cloud: anyone may register
    }
)
os.environ.pop("JWT_SECRET_ARN", None)
os.environ.pop("INGEST_KEY_SECRET_ARN", None)
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(_var, None)


# ------------------------------------------------------------------ DynamoDB call recording
_original_create_client = botocore.session.Session.create_client


def _recording_create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
    client = _original_create_client(self, service_name, *args, **kwargs)
    if service_name == "dynamodb":
        client.meta.events.register("before-call.dynamodb", RECORDER)
        client.meta.events.register("before-parameter-build.dynamodb", RECORDER.parameters)
    return client


botocore.session.Session.create_client = _recording_create_client  # type: ignore[method-assign]


# ------------------------------------------------------------------ the log scan
def pytest_runtest_setup(item):
    SENT_SECRETS.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "teardown" or not SENT_SECRETS:
        return
    leaked = leaked_secrets("\n".join(text for _, _, text in item._report_sections))
    if leaked:
        report.outcome = "failed"
        shown = ", ".join(f"{s[:4]}…({len(s)} chars)" for s in leaked)
        report.longrepr = f"the test's logs or output contain secrets it sent: {shown}"


@pytest.fixture(autouse=True)
def _no_scans():
    RECORDER.calls.clear()
    yield
    scans = [c for c in RECORDER.calls if c in ("Scan", "ExecuteStatement")]
    assert not scans, f"a request path used {scans}: every access pattern must be a key or index query"


@pytest.fixture
def aws():
    """A clean moto account with the template's tables; cached models and settings are rebuilt."""
    from moto import mock_aws

    from fleetgate.core import settings

    with mock_aws():
        settings.reset()
        import boto3

        STACK.create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        STACK.create_queues(boto3.client("sqs", region_name="us-east-1"))
        RECORDER.calls.clear()
        RECORDER.written.clear()
        yield
        settings.reset()


# ------------------------------------------------------------------ API client
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    ddb_calls: list[str] = field(default_factory=list)


class Api:
    """Drives the functions with real API Gateway v2 events, routed as the HTTP API routes them: the main one, or
    another HTTP API of the template through :meth:`on` (``api.on("MicroshareApi").call(...)``) or a path that names
    it (``api.call("GET", "MicroshareApi:/api/v1/devices")``, as route tables key such routes)."""

    http_api: str | None = None  # the HTTP API's logical id; None: the main one

    def on(self, http_api: str) -> Api:
        """This client, calling HTTP API ``http_api`` (a logical id of template.yaml)."""
        other = copy.copy(self)
        other.http_api = http_api
        return other

    def __init__(self) -> None:
        import boto3

        from localcloud.lambdas import Functions
        from localcloud.streams import Streams

        self.functions = Functions(STACK)
        self.streams = Streams(
            STACK,
            self.functions.invoke,
            dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
            streams=boto3.client("dynamodbstreams", region_name="us-east-1"),
            sqs=boto3.client("sqs", region_name="us-east-1"),
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        raw: str | bytes | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        streams: bool = True,
    ) -> Reply:
        hdrs = {"user-agent": "pytest", **(headers or {})}
        body: str | bytes | None = raw
        if json_body is not None:
            body, hdrs["content-type"] = json.dumps(json_body), "application/json"
        if form is not None:
            body, hdrs["content-type"] = urlencode(form), "application/x-www-form-urlencoded"
        if token:
            hdrs["authorization"] = f"Bearer {token}"
        remember_secrets_in(json_body)
        remember_secrets_in(form)
        remember_secret(token)
        remember_secret(next((v for k, v in hdrs.items() if k.lower() == "x-api-key"), None))
        http_api, path = _on_api(path, self.http_api)
        target = path + ("?" + urlencode(query) if query else "")
        RECORDER.calls.clear()
        resp = self.functions.http(method, target, hdrs, body, api=http_api)
        calls = list(RECORDER.calls)
        route, _ = self.functions.match(method, path, http_api)
        if route is not None:
            OBSERVED.add((route.api, route.method, route.path, resp.status))
        if streams:  # False: leave the records on the streams, for a test to deliver several at once
            self.deliver_streams()
        reply = Reply(resp.status, resp.headers, resp.json() if resp.body else None, calls)
        remember_secrets_in(reply.body)  # keys and tokens handed out are sent back later
        return reply

    def deliver_streams(self) -> int:
        """Hand the stream records of every table written since the last delivery to their consumers."""
        written, RECORDER.written = RECORDER.written, set()
        return self.streams.drain(written) if written else 0

    # conveniences ---------------------------------------------------------
    def register(self, *, admin: bool = False, password: str = "correct horse battery") -> dict[str, Any]:
        """A new user with a token. Unique per call."""
        tag = uuid.uuid4().hex[:10]
        email, username = f"user-{tag}@example.com", f"user_{tag}"
        if admin:
            from fleetgate.users import service

            service.create_admin(email, username, password)
        else:
            reply = self.call(
                "POST", "/api/v1/auth/register", json_body={"email": email, "username": username, "password": password}
            )
            assert reply.status == 201, reply.body
        login = self.call("POST", "/api/v1/auth/login", form={"username": email, "password": password})
        assert login.status == 200, login.body
        return {"email": email, "username": username, "password": password, "token": login.body["access_token"]}


def _on_api(path: str, http_api: str | None) -> tuple[str | None, str]:
    """``MicroshareApi:/api/v1/devices`` (a route table's key, tests.support.route_path) → that API and its path."""
    name, sep, rest = path.partition(":")
    if sep and rest.startswith("/") and not name.startswith("/"):
        return name, rest
    return http_api, path


@pytest.fixture
def api(aws) -> Api:
    return Api()


def new_eui() -> str:
    return uuid.uuid4().hex[:16]


# ------------------------------------------------------------------ fake upstreams
@pytest.fixture
def microshare(api, monkeypatch):
    """A fake Microshare on loopback, with the function's settings pointing at it (short deadlines)."""
    from fleetgate.core import settings
    from tests.fakes import FakeMicroshare

    fake = FakeMicroshare().start()
    monkeypatch.setenv("MICROSHARE_AUTH_URL", fake.url)
    monkeypatch.setenv("MICROSHARE_API_URL", fake.url + "/")
    monkeypatch.setenv("MICROSHARE_USERNAME", fake.username)
    monkeypatch.setenv("MICROSHARE_PASSWORD", fake.password)
    monkeypatch.setenv("MICROSHARE_API_KEY", fake.client_id)
    monkeypatch.setenv("API_TIMEOUT", "1.0")
    monkeypatch.setenv("MICROSHARE_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("MICROSHARE_LEASE_WAIT_SECONDS", "8")
    monkeypatch.setenv("ERP_ADAPTER", "upload")
    settings.reset()
    yield fake
    fake.stop()
