"""The Microshare auth and device APIs over HTTP.

Protocol (the sample's):
- ``POST {MICROSHARE_AUTH_URL}/oauth2/token`` with query parameters username, password, client_id,
  grant_type=password, scope=ALL:ALL → ``{access_token, expires_in}``;
- ``GET {MICROSHARE_API_URL}/device/*?details=true&discover=true`` → ``{"objs": [cluster, ...]}``;
- ``GET`` / ``PUT {MICROSHARE_API_URL}/device/{recType}/{clusterId}`` reads / replaces one cluster
  ``{_id, name, recType, data: {devices: [...]}}`` (a read may wrap it as ``{"objs": [cluster]}``).

One client per function instance: one pooled httpx client, and the service account's token, cached in
memory across invocations and fetched again shortly before ``expires_in`` runs out. A 401 from the device
API means the token went bad early: the client authenticates once more and retries once. Every call has
a true deadline of API_TIMEOUT. Credentials and tokens are never logged (the auth URL carries the password
in its query, so URLs are never logged either).

Retries (the contract's "exponential backoff"): a call that may safely happen twice - a read, the token request,
and the PUT of a cluster made under its write lease (see :mod:`~fleetgate.microshare.writes`: no other writer
between, and the same whole-cluster body replayed writes the same thing) - is tried again on a 429 or 5xx answer
or a refused or broken connection, after a pause drawn from ``[0, 0.1 * 2**n]`` s (full jitter; at most 2 s, or
the 429's Retry-After), at most :data:`MAX_ATTEMPTS` times in all, and only while the request's deadline
(:func:`fleetgate.core.http.time_left`) leaves room for the pause and another attempt. A call with no answer in
time is not tried again: its deadline was the caller's whole wait.
"""

import json
import random
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

from fleetgate.core.errors import BadGateway, ConfigurationError, DomainError, GatewayTimeout, NotFound
from fleetgate.core.http import deadline, is_timeout, pooled_client, time_left
from fleetgate.core.observability import count, logger
from fleetgate.core.settings import cached, resolve_secret
from fleetgate.microshare.clusters import Cluster
from fleetgate.microshare.settings import MicroshareSettings, get_microshare_settings

REFRESH_MARGIN_SECONDS = 60.0  # fetch a new token this long before expiry (at most 10 % of its lifetime)
MAX_ATTEMPTS = 4  # a retried call: the first try and three more
BACKOFF_BASE, BACKOFF_CAP = 0.1, 2.0  # seconds: the n-th pause is drawn from [0, min(cap, base * 2**n)]
MIN_ATTEMPT_SECONDS = 0.5  # a retry needs this much of the request's deadline left after its pause
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Reply(NamedTuple):
    status: int
    body: Any  # parsed JSON, or None when empty or not JSON
    ms: float
    retry_after: float | None = None  # a Retry-After header in seconds

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class CredentialsRejected(Exception):
    """The auth endpoint refused a username/password pair."""


class Unreachable(BadGateway):
    """No connection to Microshare (refused, reset, DNS)."""


class ServiceCredentialsRejected(DomainError):
    """Microshare refused the configured service account (or the token it issued for it): the contract's 401
    ``{"error": "Authentication Error", "detail": ...}`` (the Microshare routes render it so)."""

    status, code, title = 401, "authentication_error", "Authentication Error"


class MicroshareClient:
    def __init__(self, settings: MicroshareSettings):
        self.settings = settings
        self._http = pooled_client(
            connect_timeout=settings.connect_timeout,
            timeout=settings.api_timeout,
            headers={"Accept": "application/json", "User-Agent": "fleetgate-microshare"},
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0

    # ------------------------------------------------------------ configuration
    def require_configured(self) -> None:
        s = self.settings
        for value, name in (
            (s.auth_url, "Microshare auth URL"),
            (s.api_url, "Microshare API URL"),
            (s.username, "Microshare username"),
            (s.password, "Microshare password"),
            (s.api_key, "Microshare API key"),
        ):
            if not value:
                raise ConfigurationError(f"{name} is not configured")

    @property
    def configured(self) -> bool:
        try:
            self.require_configured()
            return True
        except ConfigurationError:
            return False

    def _secret(self, value: str, what: str) -> str:
        try:
            return resolve_secret(value)
        except Exception as exc:
            logger.error(f"{what} could not be read", extra={"error_type": type(exc).__name__})
            raise ConfigurationError(f"{what} could not be read") from None

    # ------------------------------------------------------------ transport
    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        retry: bool = False,
    ) -> Reply:
        """One call; ``retry``: one that may safely happen twice, tried again as the module docstring says."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                reply = self._attempt(method, url, what, params=params, headers=headers, json_body=json_body)
            except Unreachable:
                if not (retry and self._pause(attempt, what, "unreachable")):
                    raise
                continue
            if reply.status in RETRY_STATUSES and retry and self._pause(attempt, what, str(reply.status), reply):
                continue
            return reply
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    def _pause(self, attempt: int, what: str, outcome: str, reply: Reply | None = None) -> bool:
        """Sleep before attempt ``attempt + 1`` and say True, or say False when it may not be made."""
        if attempt >= MAX_ATTEMPTS:
            return False
        pause = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        if reply is not None and reply.retry_after is not None:
            pause = reply.retry_after
        left = time_left()
        if pause > BACKOFF_CAP or (left is not None and left - pause < MIN_ATTEMPT_SECONDS):
            return False
        logger.info(
            "Microshare call retried",
            extra={"upstream_call": what, "attempt": attempt + 1, "after": outcome, "pause_ms": round(pause * 1000)},
        )
        time.sleep(pause)
        return True

    def _attempt(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: Sequence[tuple[str, str]],
        headers: dict[str, str] | None,
        json_body: Any,
    ) -> Reply:
        import httpx

        started = time.perf_counter()
        try:
            with deadline(self.settings.api_timeout):
                response = self._http.request(
                    method,
                    url,
                    params=list(params),
                    headers=headers,
                    content=None if json_body is None else json.dumps(json_body),
                )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise ConfigurationError("Microshare URL is invalid") from None
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            logger.warning(
                "Microshare call failed",
                extra={"upstream_call": what, "error_type": type(exc).__name__, "duration_ms": round(ms, 1)},
            )
            count("UpstreamErrors", upstream="microshare", status="timeout" if is_timeout(exc) else "unreachable")
            if is_timeout(exc):
                raise GatewayTimeout("Microshare API did not respond in time") from None
            raise Unreachable("Could not connect to Microshare API") from None
        ms = (time.perf_counter() - started) * 1000
        logger.info(
            "Microshare call",
            extra={"upstream_call": what, "upstream_status": response.status_code, "duration_ms": round(ms, 1)},
        )
        if not 200 <= response.status_code < 300:
            count("UpstreamErrors", upstream="microshare", status=str(response.status_code))
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Reply(response.status_code, body, ms, _seconds(response.headers.get("retry-after")))

    # ------------------------------------------------------------ authentication
    def fetch_token(self, username: str, password: str) -> tuple[str, int]:
        """One call to the auth endpoint. Raises CredentialsRejected for a 400/401/403."""
        s = self.settings
        if not s.auth_url:
            raise ConfigurationError("Microshare auth URL is not configured")
        if not s.api_key:
            raise ConfigurationError("Microshare API key is not configured")
        client_id = self._secret(s.api_key, "Microshare API key")
        params = [
            ("username", username),
            ("password", password),
            ("client_id", client_id),
            ("grant_type", "password"),
            ("scope", "ALL:ALL"),
        ]
        reply = self._send("POST", s.auth_url.rstrip("/") + "/oauth2/token", "auth", params=params, retry=True)
        if reply.status in (400, 401, 403):
            raise CredentialsRejected()
        if not reply.ok:
            raise BadGateway(f"Microshare auth returned error {reply.status}")
        body = reply.body if isinstance(reply.body, dict) else {}
        token, expires_in = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not token or not isinstance(expires_in, (int, float)) or expires_in <= 0:
            raise BadGateway("Microshare auth returned an invalid response")
        return token, int(expires_in)

    def token(self, *, stale: str | None = None) -> str:
        """The service account's token: cached, fetched again shortly before it expires.

        ``stale``: a token the upstream just refused; a new one is fetched unless another thread already did.
        """
        with self._lock:
            now = time.monotonic()
            if self._token and now < self._refresh_at and (stale is None or self._token != stale):
                return self._token
            self.require_configured()
            s = self.settings
            try:
                token, expires_in = self.fetch_token(s.username, self._secret(s.password, "Microshare password"))
            except CredentialsRejected:
                raise ServiceCredentialsRejected("Microshare rejected the configured credentials") from None
            self._token = token
            self._expires_at = now + expires_in
            self._refresh_at = now + expires_in - min(REFRESH_MARGIN_SECONDS, expires_in * 0.1)
            return token

    def probe_auth(self) -> int:
        """The status of one real authentication with the service account (the benchmark times it)."""
        self.require_configured()
        s = self.settings
        params = [
            ("username", s.username),
            ("password", self._secret(s.password, "Microshare password")),
            ("client_id", self._secret(s.api_key, "Microshare API key")),
            ("grant_type", "password"),
            ("scope", "ALL:ALL"),
        ]
        return self._send("POST", s.auth_url.rstrip("/") + "/oauth2/token", "auth_probe", params=params).status

    def token_state(self) -> tuple[bool, int | None]:
        with self._lock:
            if not self._token:
                return False, None
            return True, max(0, int(self._expires_at - time.monotonic()))

    # ------------------------------------------------------------ device API
    def api(
        self,
        method: str,
        segments: Sequence[str],
        what: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json_body: Any = None,
        retry: bool | None = None,
        retry_auth: bool = True,
    ) -> Reply:
        """A device-API call with the service token; one re-authentication and retry on a 401. ``retry`` (default:
        for a GET) tries it again on a 429, 5xx or broken connection (module docstring)."""
        retry = method == "GET" if retry is None else retry
        token = self.token()
        url = self.settings.api_url.rstrip("/") + "/" + "/".join(quote(s, safe="*") for s in segments)
        headers = {"Authorization": f"Bearer {token}"}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        reply = self._send(method, url, what, params=params, headers=headers, json_body=json_body, retry=retry)
        if reply.status == 401 and retry_auth:
            logger.info("Microshare token refused; authenticating again", extra={"upstream_call": what})
            self.token(stale=token)
            return self.api(method, segments, what, params=params, json_body=json_body, retry=retry, retry_auth=False)
        return reply

    def _discovery(self, what: str, *, retry: bool = True) -> Reply:
        params = [("details", "true"), ("discover", "true")]
        return self.api("GET", ["device", "*"], what, params=params, retry=retry)

    def discover(self) -> list[Cluster]:
        reply = self._discovery("discover")
        _expect_ok(reply)
        objs = reply.body.get("objs") if isinstance(reply.body, dict) else None
        if not isinstance(objs, list):
            raise BadGateway("Microshare API returned an invalid response")
        return [c for c in (Cluster.parse(o) for o in objs) if c is not None]

    def get_cluster(self, rec_type: str, cluster_id: str) -> Cluster:
        reply = self.api("GET", ["device", rec_type, cluster_id], "get_cluster")
        if reply.status == 404:
            raise NotFound(f"Cluster {cluster_id} not found on Microshare")
        _expect_ok(reply)
        body = reply.body
        if isinstance(body, dict) and isinstance(body.get("objs"), list):
            body = body["objs"][0] if body["objs"] else None
        cluster = Cluster.parse(body)
        if cluster is None:
            raise BadGateway("Microshare API returned an invalid response")
        return cluster

    def put_cluster(self, cluster: Cluster, *, leased: bool) -> None:
        """Replace the cluster upstream. ``leased``: the caller holds the cluster's write lease, so the PUT may be
        replayed on a failure (no other write between; the same whole body writes the same thing)."""
        path = ["device", cluster.rec_type, cluster.id]
        reply = self.api("PUT", path, "put_cluster", json_body=cluster.to_record(), retry=leased)
        if reply.status == 404:
            raise NotFound(f"Cluster {cluster.id} not found on Microshare")
        _expect_ok(reply)

    # ------------------------------------------------------------ probes (the benchmark: status codes, never raising)
    def probe_discovery(self) -> tuple[int, Cluster | None]:
        """The status of one discovery call, and its first cluster when it answered one."""
        reply = self._discovery("benchmark_discover", retry=False)
        objs = reply.body.get("objs") if reply.ok and isinstance(reply.body, dict) else None
        first = Cluster.parse(objs[0]) if isinstance(objs, list) and objs else None
        return reply.status, first

    def probe_cluster(self, cluster: Cluster) -> int:
        """The status of one read of ``cluster``."""
        return self.api("GET", ["device", cluster.rec_type, cluster.id], "benchmark_cluster", retry=False).status


def _seconds(value: str | None) -> float | None:
    """A Retry-After header's delay in seconds (its HTTP-date form is not used by Microshare)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _expect_ok(reply: Reply) -> None:
    if reply.status == 401:
        raise ServiceCredentialsRejected("Microshare API refused the service token")
    if not reply.ok:
        raise BadGateway(f"Microshare API returned error {reply.status}")


@cached
def instance() -> MicroshareClient:
    return MicroshareClient(get_microshare_settings())
