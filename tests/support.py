"""Helpers shared by the tests (import them from here, never from conftest.py, which pytest loads itself)."""

import uuid
from typing import Any

from localcloud.template import stack as _load_stack

STACK = _load_stack()  # template.yaml as the tests run it


WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


class CallRecorder:
    """The DynamoDB operations botocore sends (conftest.py registers it on every DynamoDB client), and the tables
    written since the streams were last delivered (``written``: the api fixture delivers their stream records)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.written: set[str] = set()

    def __call__(self, model, **_) -> None:  # before-call.dynamodb
        self.calls.append(model.name)

    def parameters(self, params, model, **_) -> None:  # before-parameter-build.dynamodb: the call's API parameters
        if model.name in WRITE_OPERATIONS:
            self.written.update(_tables(model.name, params))


def _tables(operation: str, params: dict) -> set[str]:
    if operation == "BatchWriteItem":
        return set(params.get("RequestItems") or {})
    if operation == "TransactWriteItems":
        return {op["TableName"] for item in params.get("TransactItems") or [] for op in item.values()}
    return {params["TableName"]} if "TableName" in params else set()


RECORDER = CallRecorder()


# ------------------------------------------------------------------ secrets the tests send (conftest.py scans logs)
SECRET_FIELDS = frozenset(
    {
        "password",
        "current_password",
        "new_password",
        "pin",
        "new_pin",
        "fcm_token",
        "api_key",
        "token",
        "access_token",
        "key",
    }
)
SENT_SECRETS: set[str] = set()  # cleared before each test; anything shorter than 8 characters is not scanned for


# Every (HTTP API, method, template path, status) that an ``api.call`` of this session answered: what the handler tests
# observe, which tests/test_zz_documented_responses.py holds the OpenAPI documents to.
OBSERVED: set[tuple[str, str, str, int]] = set()


def route_path(route: Any) -> str:
    """A template route's path as the route tables of the tests key it: its path on the main HTTP API, and
    ``<ApiLogicalId>:<path>`` on another one (``MicroshareApi:/api/v1/devices``), which ``api.call`` routes there."""
    return route.path if route.api == STACK.apis[0] else f"{route.api}:{route.path}"


def remember_secret(value: object) -> None:
    if isinstance(value, str) and len(value) >= 8:
        SENT_SECRETS.add(value)


def leaked_secrets(captured: str) -> list[str]:
    """The secrets sent in this test that ``captured`` (its output and logs) contains."""
    return sorted(s for s in SENT_SECRETS if s in captured)


def remember_secrets_in(body: object) -> None:
    """Every value under a secret-named key, at any depth of a request body."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in SECRET_FIELDS:
                remember_secret(value)
            remember_secrets_in(value)
    elif isinstance(body, list):
        for value in body:
            remember_secrets_in(value)


def new_eui() -> str:
    """A random, unique 16-hex-digit DevEUI."""
    return uuid.uuid4().hex[:16]


# ------------------------------------------------------------------ a fake HTTP sink on loopback
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink:
    """A fake HTTP endpoint on 127.0.0.1 that records what it receives and answers ``status`` / ``body``."""

    def __init__(self, status: int = 200, body: bytes = b'{"ok": true}'):
        self.status, self.body = status, body
        self.requests: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                sink.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(raw) if raw else None,
                    }
                )
                self.send_response(sink.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(sink.body)))
                self.end_headers()
                self.wfile.write(sink.body)

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Sink":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# ------------------------------------------------------------------ lanes that need a system tool
import os
import shutil

import pytest


def lane_unavailable(reason: str) -> None:
    """Skip (saying how to get the tool), or fail when every lane is required.

    CI sets FLEETGATE_REQUIRE_ALL_LANES=1, so there a missing tool fails the run instead of skipping."""
    if os.environ.get("FLEETGATE_REQUIRE_ALL_LANES") == "1":
        pytest.fail(f"{reason} (FLEETGATE_REQUIRE_ALL_LANES=1: this lane must run)")
    pytest.skip(reason)


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def token_for(role: str = "user", permissions: tuple[str, ...] = ()) -> dict:
    """A stored user (with ``permissions``) and a token of theirs, without a login. Needs the ``aws`` fixture.

    Every authenticated route checks the token against its user's record, so a token needs a stored user.
    """
    from fleetgate.core.auth import issue_token
    from fleetgate.core.ids import now_iso
    from fleetgate.users import repository
    from fleetgate.users.schemas import User

    user_id, now = str(uuid.uuid4()), now_iso()
    repository.create(
        User(
            id=user_id,
            email=f"{user_id}@example.com",
            username=f"u_{user_id[:20]}",
            role=role,
            permissions=list(permissions),
            password_hash="$argon2id$unused",
            created_at=now,
            updated_at=now,
        )
    )
    token = issue_token(user_id, role)[0]  # type: ignore[arg-type]
    remember_secret(token)
    return {"id": user_id, "token": token}


# ------------------------------------------------------------------ DynamoDB's own faults, through botocore's hooks
class ClientHook:
    """Registers ``self`` on the layer's shared DynamoDB client for ``event`` while in the block: DynamoDB's own
    behaviour (throttling, a failed write) is played through botocore's event hooks, nothing of ours is patched."""

    event = ""

    def __enter__(self):
        from fleetgate.core.repository import shared_connection

        self.events = shared_connection().client.meta.events
        self.events.register(self.event, self)
        return self

    def __exit__(self, *_: object) -> None:
        self.events.unregister(self.event, self)
