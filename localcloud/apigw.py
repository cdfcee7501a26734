"""API Gateway HTTP API (payload format 2.0) events and responses, as AWS builds and reads them."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.template import Route

TEXT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/",
    "application/xml",
    "application/javascript",
    "application/problem+json",
)


def http_event(
    method: str,
    raw_path_and_query: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    route: Route | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "$default",
    api_id: str = "local",
) -> dict[str, Any]:
    """Build the event API Gateway v2 hands to a Lambda proxy integration."""
    split = urlsplit(raw_path_and_query)
    path = split.path or "/"
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    cookies = [c.strip() for c in lower.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    if path_parameters is None and route is not None:
        m = route.regex.match(path)
        path_parameters = {k: v for k, v in (m.groupdict() if m else {}).items()}
    is_b64 = False
    body_text: str | None = None
    if body is not None and body != b"" and body != "":
        raw = body.encode() if isinstance(body, str) else body
        ctype = lower.get("content-type", "")
        if ctype and not any(ctype.startswith(t) for t in TEXT_TYPES):
            body_text, is_b64 = base64.b64encode(raw).decode(), True
        else:
            try:
                body_text = raw.decode("utf-8")
            except UnicodeDecodeError:
                body_text, is_b64 = base64.b64encode(raw).decode(), True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key if route else "$default",
        "rawPath": path,
        "rawQueryString": split.query,
        "headers": lower,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": lower.get("host", "127.0.0.1"),
            "domainPrefix": api_id,
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key if route else "$default",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body_text is not None:
        event["body"] = body_text
    return event


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def decode_response(result: Any) -> HttpResponse:
    """Read a handler's result the way API Gateway does for payload format 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A bare value: API Gateway answers 200 with it as JSON.
        return HttpResponse(200, {"content-type": "application/json"}, [], json.dumps(result).encode())
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return HttpResponse(int(result["statusCode"]), headers, list(result.get("cookies") or []), raw)


class LambdaContext:
    """Enough of Lambda's context object for Powertools and the handlers."""

    def __init__(self, function_name: str, memory_mb: int = 512, timeout_s: int = 10):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
