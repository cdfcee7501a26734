"""Fake upstreams on 127.0.0.1 for tests and benchmarks: Mobivisor, Microshare (auth + device API) and Odoo.

Each is a real HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, Nagle off) in a background
thread, so timeouts, refused connections and malformed bodies are real. A fake records every request and
counts the TCP connections it accepted. Faults are scripted per fake: ``fail(...)`` queues answers for the
next matching requests, ``delay``/``trickle`` hold answers back.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_BODY = 10 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str  # raw (still percent-encoded), without the query
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between single bytes of the body (a slow drip)
    drop: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)  # more response headers (Retry-After, ...)

    @classmethod
    def json(cls, status: int, value: Any, **kwargs: Any) -> Answer:
        return cls(status, json.dumps(value).encode(), **kwargs)


@dataclass
class Scripted:
    match: Callable[[Request], bool]
    answer: Answer
    times: int


class FakeServer:
    """A threaded HTTP/1.1 server whose answers come from :meth:`handle` (override it)."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections += 1

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY)) if length else b""
                req = Request(
                    self.command,
                    split.path,
                    parse_qsl(split.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.requests.append(req)
                answer = fake._scripted(req) or fake.handle(req)
                fake._send(self, answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.connections = 0
        self._script: list[Scripted] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- scripting
    def fail(
        self,
        answer: Answer,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        where: Callable[[Request], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching method/path prefix (and ``where``) with ``answer``."""

        def match(req: Request) -> bool:
            return (
                (method is None or req.method == method)
                and (path is None or req.path.startswith(path))
                and (where is None or where(req))
            )

        with self.lock:
            self._script.append(Scripted(match, answer, times))

    def _scripted(self, req: Request) -> Answer | None:
        with self.lock:
            for item in self._script:
                if item.times > 0 and item.match(req):
                    item.times -= 1
                    return item.answer
        return None

    def handle(self, req: Request) -> Answer:  # pragma: no cover - overridden
        return Answer.json(404, {"error": "not found"})

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path.startswith(path))
            ]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.connections = 0

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if answer.trickle:
                for i in range(len(answer.body)):
                    handler.wfile.write(answer.body[i : i + 1])
                    handler.wfile.flush()
                    time.sleep(answer.trickle)
            else:
                handler.wfile.write(answer.body)
        except OSError:  # the client gave up (deadline): nothing more to send
            handler.close_connection = True


# ===================================================================== Mobivisor
class FakeMobivisor(FakeServer):
    """GET /devices, GET and DELETE /devices/{id}, bearer ``token`` required (401 otherwise)."""

    def __init__(self, token: str = "mobivisor-test-token", prefix: str = "") -> None:
        super().__init__()
        self.token = token
        self.prefix = prefix  # e.g. "/api" when the base URL has a path
        self.devices: dict[str, dict[str, Any]] = {
            "123": {
                "id": "123",
                "name": "Device 1",
                "status": "online",
                "last_seen": "2025-10-18T10:30:00Z",
                "location": "Store A",
                "firmware_version": "1.2.3",
            },
            "456": {"id": "456", "name": "Device 2", "status": "offline"},
        }

    def handle(self, req: Request) -> Answer:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Answer.json(401, {"error": "invalid token"})
        path = req.path[len(self.prefix) :] if req.path.startswith(self.prefix) else req.path
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["devices"] and req.method == "GET":
            return Answer.json(
                200, {"devices": [{k: d[k] for k in ("id", "name", "status")} for d in self.devices.values()]}
            )
        if len(parts) == 2 and parts[0] == "devices":
            device = self.devices.get(parts[1])
            if device is None:
                return Answer.json(404, {"error": "device not found"})
            if req.method == "GET":
                return Answer.json(200, device)
            if req.method == "DELETE":
                with self.lock:
                    self.devices.pop(parts[1], None)
                return Answer(204)
        return Answer.json(404, {"error": "no such route"})


# ===================================================================== Microshare
TRAP = "io.microshare.trap.packed"
GATEWAY = "io.microshare.gateway.health.packed"
DEFAULT_ID = "00-00-00-00-00-00-00-00"


def trap(
    guid: str,
    customer: str,
    site: str,
    area: str,
    reference: str,
    *,
    device_id: str = DEFAULT_ID,
    status: str = "active",
    placement: str = "Internal",
    configuration: str = "Bait/Lured",
) -> dict[str, Any]:
    return {
        "id": device_id,
        "meta": {"location": [customer, site, area, reference, placement, configuration]},
        "status": status,
        "guid": guid,
    }


def gateway(guid: str, customer: str, site: str, area: str, where: str, *, device_id: str) -> dict[str, Any]:
    return {"id": device_id, "meta": {"location": [customer, site, area, where]}, "status": "active", "guid": guid}


def sample_clusters() -> list[dict[str, Any]]:
    """Two trap clusters (two customers) and one gateway cluster."""
    return [
        {
            "_id": "trap-golden",
            "name": "Golden Crust traps",
            "recType": TRAP,
            "data": {
                "devices": [
                    trap(
                        "g-1",
                        "Golden Crust",
                        "Manchester",
                        "Flour Store",
                        "ERP-001",
                        device_id="58-A0-CB-FF-FE-80-00-01",
                    ),
                    trap("g-2", "Golden Crust", "Manchester", "Bakery", "ERP-002", device_id="58-A0-CB-FF-FE-80-00-02"),
                    trap("g-3", "Golden Crust", "Manchester", "Dock", "ERP-003", status="pending"),
                ]
            },
        },
        {
            "_id": "trap-acme",
            "name": "Acme traps",
            "recType": TRAP,
            "data": {
                "devices": [
                    trap("a-1", "Acme", "Leeds", "Kitchen", "ACME-01", device_id="58-A0-CB-FF-FE-80-00-11"),
                    trap("a-2", "Acme", "Leeds", "Store", "ACME-02", status="pending"),
                ]
            },
        },
        {
            "_id": "gw-golden",
            "name": "Golden Crust gateways",
            "recType": GATEWAY,
            "data": {
                "devices": [
                    gateway(
                        "gw-1", "Golden Crust", "Manchester", "Roof", "North mast", device_id="AA-BB-CC-DD-EE-FF-00-01"
                    ),
                ]
            },
        },
    ]


class FakeMicroshare(FakeServer):
    """Microshare's auth and device API as the sample uses them (one server plays both hosts).

    - ``POST /oauth2/token?username&password&client_id&grant_type=password&scope=ALL:ALL`` → token;
    - ``GET /device/*?details=true&discover=true`` → ``{"objs": [cluster, ...]}``;
    - ``GET /device/{recType}/{id}`` → ``{"objs": [cluster]}``; ``PUT`` the same path replaces the cluster.

    Knobs: ``expires_in``; ``revoke()`` invalidates issued tokens; ``read_delay`` holds every cluster GET (to
    widen race windows); ``ignore_puts`` answers PUTs 200 without applying them (a lossy upstream).
    """

    def __init__(
        self,
        *,
        username: str = "svc@example.com",
        password: str = "svc-password",
        client_id: str = "client-123",
        expires_in: int = 3600,
    ) -> None:
        super().__init__()
        self.username, self.password, self.client_id = username, password, client_id
        self.users = {username: password}
        self.expires_in = expires_in
        self.tokens: dict[str, float] = {}  # token → monotonic expiry
        self.refused = 0  # device-API requests answered 401 for a missing, unknown or expired token
        self.clusters: dict[str, dict[str, Any]] = {c["_id"]: c for c in sample_clusters()}
        self.read_delay = 0.0
        self.ignore_puts = 0

    def revoke(self) -> None:
        with self.lock:
            self.tokens.clear()

    def devices_in(self, cluster_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.clusters[cluster_id]["data"]["devices"])

    def count(self, kind: str) -> int:
        """Requests of one kind: auth, discover, get, put."""
        kinds = {
            "auth": ("POST", "/oauth2/token"),
            "discover": ("GET", "/device/%2A"),
            "get": ("GET", "/device/io."),
            "put": ("PUT", "/device/"),
        }
        method, prefix = kinds[kind]
        reqs = self.calls(method)
        if kind == "discover":
            return sum(1 for r in reqs if r.path in ("/device/*", "/device/%2A"))
        return sum(1 for r in reqs if r.path.startswith(prefix))

    def handle(self, req: Request) -> Answer:
        q = dict(req.query)
        if req.method == "POST" and req.path == "/oauth2/token":
            ok = (
                self.users.get(q.get("username", "")) == q.get("password")
                and q.get("client_id") == self.client_id
                and q.get("grant_type") == "password"
                and q.get("scope") == "ALL:ALL"
            )
            if not ok:
                return Answer.json(401, {"error": "invalid_grant"})
            token = uuid.uuid4().hex
            with self.lock:
                self.tokens[token] = time.monotonic() + self.expires_in
            return Answer.json(200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})
        auth = req.headers.get("authorization", "")
        with self.lock:
            valid = auth.startswith("Bearer ") and self.tokens.get(auth[7:], 0) > time.monotonic()
            if not valid:
                self.refused += 1
        if not valid:
            return Answer.json(401, {"error": "invalid token"})
        parts = [unquote(p) for p in req.path.strip("/").split("/")]
        if req.method == "GET" and parts == ["device", "*"]:
            if q.get("details") != "true" or q.get("discover") != "true":
                return Answer.json(400, {"error": "details and discover required"})
            with self.lock:
                objs = copy.deepcopy(list(self.clusters.values()))
            return Answer.json(200, {"objs": objs, "meta": {"totalCount": len(objs)}})
        if len(parts) == 3 and parts[0] == "device":
            rec_type, cluster_id = parts[1], parts[2]
            with self.lock:
                cluster = self.clusters.get(cluster_id)
                if cluster is None or cluster["recType"] != rec_type:
                    return Answer.json(404, {"error": "no such cluster"})
                snapshot = copy.deepcopy(cluster)
            if req.method == "GET":
                if self.read_delay:
                    time.sleep(self.read_delay)
                return Answer.json(200, {"objs": [snapshot]})
            if req.method == "PUT":
                body = req.json()
                with self.lock:
                    if self.ignore_puts:
                        self.ignore_puts -= 1
                        return Answer.json(200, {"objs": [snapshot]})
                    self.clusters[cluster_id] = {
                        **snapshot,
                        **{k: v for k, v in body.items() if k != "_id"},
                        "_id": cluster_id,
                    }
                    return Answer.json(200, {"objs": [copy.deepcopy(self.clusters[cluster_id])]})
        return Answer.json(404, {"error": "no such route"})


# ===================================================================== Odoo (XML-RPC)
@dataclass
class FakeOdoo:
    """Odoo's external API over XML-RPC: /xmlrpc/2/common (authenticate) and /xmlrpc/2/object (execute_kw).

    Serves ``product.product`` ``search_read``/``search_count`` over ``products`` (domain: categ_id =, active =,
    default_code !=). ``calls`` records (method, model, args).
    """

    database: str = "pest_demo"
    username: str = "erp@example.com"
    password: str = "odoo-password"
    products: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    delay: float = 0.0

    def __post_init__(self) -> None:
        from xmlrpc.server import MultiPathXMLRPCServer, SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

        class Handler(SimpleXMLRPCRequestHandler):
            rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

        class Server(MultiPathXMLRPCServer):
            daemon_threads = True

            def process_request(self, request: Any, client_address: Any) -> None:  # one thread per connection
                threading.Thread(target=self._work, args=(request, client_address), daemon=True).start()

            def _work(self, request: Any, client_address: Any) -> None:
                try:
                    self.finish_request(request, client_address)
                except Exception:
                    self.handle_error(request, client_address)
                finally:
                    self.shutdown_request(request)

        self.server = Server(("127.0.0.1", 0), requestHandler=Handler, logRequests=False, allow_none=True)
        common, obj = SimpleXMLRPCDispatcher(allow_none=True), SimpleXMLRPCDispatcher(allow_none=True)
        common.register_function(self._authenticate, "authenticate")
        common.register_function(lambda: {"server_version": "17.0"}, "version")
        obj.register_function(self._execute_kw, "execute_kw")
        self.server.add_dispatcher("/xmlrpc/2/common", common)
        self.server.add_dispatcher("/xmlrpc/2/object", obj)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FakeOdoo:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _authenticate(self, db: str, login: str, password: str, _env: dict) -> Any:
        self.calls.append(("authenticate", db, login))
        if self.delay:
            time.sleep(self.delay)
        return 7 if (db, login, password) == (self.database, self.username, self.password) else False

    def _execute_kw(
        self, db: str, uid: int, password: str, model: str, method: str, args: list, kwargs: dict | None = None
    ) -> Any:
        from xmlrpc.client import Fault

        self.calls.append(("execute_kw", model, method))
        if (db, uid, password) != (self.database, 7, self.password):
            raise Fault(3, "Access Denied")
        if model != "product.product":
            raise Fault(2, f"Object {model} doesn't exist")
        rows = [p for p in self.products if self._matches(p, args[0] if args else [])]
        if method == "search_count":
            return len(rows)
        if method == "search_read":
            kwargs = kwargs or {}
            offset, limit = int(kwargs.get("offset", 0)), kwargs.get("limit")
            rows = sorted(rows, key=lambda p: p["id"])[offset : offset + limit if limit else None]
            fields = kwargs.get("fields")
            return [{k: v for k, v in p.items() if not fields or k in fields or k == "id"} for p in rows]
        raise Fault(2, f"Method {method} not served by the fake")

    @staticmethod
    def _matches(product: dict[str, Any], domain: list) -> bool:
        for name, op, value in domain:
            actual = product.get(name)
            if name == "categ_id" and isinstance(actual, list):
                actual = actual[0]
            if op == "=" and actual != value:
                return False
            if op == "!=" and actual == value:
                return False
        return product.get("active", True) is not False


def odoo_product(pid: int, name: str, code: str | bool, *, category: int = 4, active: bool = True) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "default_code": code,
        "categ_id": [category, "Pest control"],
        "active": active,
        "barcode": False,
        "description": False,
    }


# ===================================================================== Firebase Cloud Messaging
class FakeFcm(FakeServer):
    """FCM's HTTP v1 send (``POST /v1/projects/{project}/messages:send``), as firebase-admin calls it.

    Accepts every message with a 200 ``{"name": "projects/{project}/messages/{n}"}`` and keeps it in
    ``messages`` (the ``message`` object as sent); script refusals with ``fail(fcm_error(...))``."""

    def messages(self) -> list[dict[str, Any]]:
        return [r.json()["message"] for r in self.calls("POST") if r.path.endswith("/messages:send")]

    def handle(self, req: Request) -> Answer:
        parts = req.path.strip("/").split("/")
        if req.method != "POST" or len(parts) != 4 or parts[:2] != ["v1", "projects"] or parts[3] != "messages:send":
            return Answer.json(404, {"error": {"code": 404, "message": "no such route", "status": "NOT_FOUND"}})
        with self.lock:
            number = len(self.requests)
        return Answer.json(200, {"name": f"projects/{parts[2]}/messages/{number}"})


def fcm_error(status: int, code: str, fcm_code: str | None = None) -> Answer:
    """An FCM v1 error answer: ``status`` (e.g. 503), its canonical ``code`` (UNAVAILABLE) and FCM's own error
    code in the details (UNREGISTERED, QUOTA_EXCEEDED, ...), as Google sends them."""
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
    error = {"code": status, "message": f"{code} (fake)", "status": code, "details": details if fcm_code else []}
    return Answer.json(status, {"error": error})
