"""The Mobivisor API over HTTP: one pooled client per function instance, a true deadline per call.

Only transport concerns live here (URL, bearer token, deadline, body decoding); what an upstream
status means for our caller is decided in service.py.
"""

import json
import time
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

from fleetgate.core.errors import BadGateway, ConfigurationError, GatewayTimeout
from fleetgate.core.http import deadline, is_timeout, pooled_client
from fleetgate.core.observability import count, logger
from fleetgate.core.settings import cached, names_secret, resolve_secret
from fleetgate.mobivisor.settings import get_mobivisor_settings

UPSTREAM_ERROR_MAX_CHARS = 2000  # a non-JSON error body is carried as text, cut to this length


class Reply(NamedTuple):
    status: int
    body: Any  # parsed JSON, or the text when the body is not JSON, or None when empty
    is_json: bool


@cached
def _http() -> Any:
    s = get_mobivisor_settings()
    return pooled_client(
        connect_timeout=s.connect_timeout,
        timeout=s.timeout,
        headers={"Accept": "application/json", "User-Agent": "fleetgate-mobivisor-proxy"},
    )


def _token(*, force: bool = False) -> str:
    configured = get_mobivisor_settings().api_token
    if not configured:
        raise ConfigurationError("Mobivisor API token is not configured")
    try:
        token = resolve_secret(configured, force=force).strip()
    except Exception as exc:
        logger.error("Mobivisor API token could not be read", extra={"error_type": type(exc).__name__})
        raise ConfigurationError("Mobivisor API token could not be read") from None
    if not token:
        raise ConfigurationError("Mobivisor API token is not configured")
    return token


def _decode(content: bytes) -> tuple[Any, bool]:
    if not content:
        return None, False
    try:
        return json.loads(content), True
    except (ValueError, RecursionError):  # not JSON, or nested too deep for the parser: not an answer we can use
        return content.decode("utf-8", errors="replace")[:UPSTREAM_ERROR_MAX_CHARS], False


def call(method: str, segments: Sequence[str], params: Sequence[tuple[str, str]] = ()) -> Reply:
    """``method {MOBIVISOR_API_URL}<segments joined by />`` with the bearer token; each segment URL-encoded."""
    import httpx

    settings = get_mobivisor_settings()
    if not settings.api_url:
        raise ConfigurationError("Mobivisor API URL is not configured")
    url = settings.api_url.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in segments)
    token = _token()
    route = "/".join(segments[:1] + ["{id}"] * (len(segments) > 1))
    for attempt in (1, 2):
        started = time.perf_counter()
        try:
            with deadline(settings.timeout):
                response = _http().request(
                    method, url, params=list(params), headers={"Authorization": f"Bearer {token}"}
                )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise ConfigurationError("Mobivisor API URL is invalid") from None
        except httpx.HTTPError as exc:
            timed_out = is_timeout(exc)
            logger.warning(
                "Mobivisor call failed",
                extra={
                    "method": method,
                    "upstream_route": route,
                    "error_type": type(exc).__name__,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            count("UpstreamErrors", upstream="mobivisor", status="timeout" if timed_out else "unreachable")
            if timed_out:
                raise GatewayTimeout("Mobivisor API did not respond in time") from None
            raise BadGateway("Could not connect to Mobivisor API") from None
        logger.info(
            "Mobivisor call",
            extra={
                "method": method,
                "upstream_route": route,
                "upstream_status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if response.status_code in (401, 403) and attempt == 1 and names_secret(settings.api_token):
            fresh = _token(force=True)  # the secret may have been rotated since we cached it
            if fresh != token:
                token = fresh
                continue
        if not 200 <= response.status_code < 300:
            count("UpstreamErrors", upstream="mobivisor", status=str(response.status_code))
        body, is_json = _decode(response.content)
        return Reply(response.status_code, body, is_json)
    raise AssertionError("unreachable")  # pragma: no cover
