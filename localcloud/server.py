"""API Gateway's part, over real HTTP: requests → HTTP API v2 events → handlers → responses.

Each HTTP API of template.yaml is served by its own :class:`Gateway` on its own port. Routes (matched by
:class:`localcloud.lambdas.Functions` from template.yaml) answer as API Gateway
does: no route is ``404 {"message":"Not Found"}``, an exception escaping a handler is
``500 {"message":"Internal Server Error"}`` (the traceback goes to the console, never to the client).

Besides the API:
- ``GET /openapi.json`` and ``GET /docs`` (Swagger UI, assets under ``/docs/static/``);
- ``/lambda-url/<LogicalId>/...``: the Function URL of each function with ``FunctionUrlConfig``,
  invoked with the same v2 payload and routeKey ``$default`` (the prefix is not part of ``rawPath``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from localcloud.apigw import HttpResponse, decode_response, http_event
from localcloud.docs import STATIC_PREFIX, ApiDocs
from localcloud.lambdas import Functions

log = logging.getLogger("localcloud.http")

FUNCTION_URL_PREFIX = "/lambda-url/"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"}


NOT_FOUND = b'{"message":"Not Found"}'
INTERNAL_ERROR = b'{"message":"Internal Server Error"}'


def _json(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, [], body)


class Gateway:
    """One HTTP API of the template (``api``, a logical id; default: the main one): maps one HTTP request to its
    docs, a Function URL (served with the main API only) or one of its routes, and the result to a response."""

    def __init__(self, functions: Functions, docs: ApiDocs | None = None, *, api: str | None = None):
        self.functions = functions
        self.docs = docs
        self.api = api or functions.main_api
        main = self.api == functions.main_api
        self.function_urls = {lid for lid, fn in functions.stack.functions.items() if fn.function_url and main}

    def function_url_path(self, logical_id: str) -> str:
        return f"{FUNCTION_URL_PREFIX}{logical_id}/"

    def handle(self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes) -> HttpResponse:
        path = urlsplit(target).path
        try:
            if self.docs is not None and method in ("GET", "HEAD"):
                page = self._docs(path)
                if page is not None:
                    return page
            if path.startswith(FUNCTION_URL_PREFIX):
                return self._function_url(method, target, _merge_headers(headers), body)
            return self.functions.http(method, target, _merge_headers(headers), body, api=self.api)
        except Exception:
            log.exception("%s %s raised; answering 500 as API Gateway does", method, path)
            return _json(500, INTERNAL_ERROR)

    def _docs(self, path: str) -> HttpResponse | None:
        assert self.docs is not None
        if path == "/openapi.json":
            return _json(200, self.docs.openapi_json())
        if path in ("/docs", "/docs/"):
            return HttpResponse(200, {"content-type": "text/html; charset=utf-8"}, [], self.docs.swagger_html())
        if path.startswith(STATIC_PREFIX):
            asset = self.docs.static(path[len(STATIC_PREFIX) :])
            if asset is None:
                return _json(404, NOT_FOUND)
            content, content_type = asset
            return HttpResponse(200, {"content-type": content_type, "cache-control": "max-age=3600"}, [], content)
        return None

    def _function_url(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        split = urlsplit(target)
        logical_id, _, rest = split.path[len(FUNCTION_URL_PREFIX) :].partition("/")
        if logical_id not in self.function_urls:
            return _json(404, NOT_FOUND)
        url_id = logical_id.lower()
        path_and_query = "/" + rest + (f"?{split.query}" if split.query else "")
        event = http_event(method, path_and_query, headers=headers, body=body or None, api_id=url_id)
        event["requestContext"]["domainName"] = f"{url_id}.lambda-url.{self.functions.stack.region}.on.aws"
        return decode_response(self.functions.invoke(logical_id, event))


def _merge_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers become one, comma-joined, as API Gateway v2 sends them (cookies joined with '; ')."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in merged:
            merged[key] += ("; " if key == "cookie" else ",") + value
        else:
            merged[key] = value
    return merged


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    disable_nagle_algorithm = True  # without it each response waits ~40 ms for the delayed ACK
    server_version = "localcloud"
    gateway: Gateway

    def _serve(self) -> None:
        started = time.perf_counter()
        response = self._respond()
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            log.info("%s %s -> %d, but the client had hung up", self.command, self.path, response.status)
            return
        log.info(
            "%s %s -> %d (%.0f ms)", self.command, self.path, response.status, (time.perf_counter() - started) * 1000
        )

    def _respond(self) -> HttpResponse:
        try:
            body = self._read_body()
        except ValueError:  # a malformed Content-Length or chunk size
            self.close_connection = True
            return _json(400, b'{"message":"Bad Request"}')
        if body is None:
            return _json(413, b'{"message":"Request Entity Too Large"}')
        return self.gateway.handle(self.command, self.path, self.headers.items(), body)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("Invalid Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _serve logs each request with its latency

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def make_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 3000) -> ThreadingHTTPServer:
    """Bind (port 0: any free port) without serving yet; call ``serve_forever()`` on the result."""
    handler = type("GatewayHandler", (_Handler,), {"gateway": gateway})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
