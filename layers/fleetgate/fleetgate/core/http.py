"""Outbound HTTP to upstreams: one pooled httpx client per function instance, and true deadlines.

httpx's timeouts bound each phase separately (connect, and every single socket read or write), so an
upstream that trickles its answer a byte at a time can hold a call far longer than its "timeout". Here
every socket operation is also bounded by the time left until the call's deadline, so a call made inside
``with deadline(10):`` ends within 10 s whatever the upstream does: the late operation raises httpx's
own ``ConnectTimeout``/``ReadTimeout``/``WriteTimeout``.

One transport serves every outbound client: the upstream clients (Mobivisor, Microshare) and the integrations'
senders, whose connections go through their destination guard (``connect``). httpx and httpcore are imported
on first use only (functions that never call out don't pay for them).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fleetgate.core.imports import hiding

_state = threading.local()  # .deadline: time.monotonic() value, or None


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every upstream socket operation in this block (this thread) by ``seconds`` from now in total."""
    previous = getattr(_state, "deadline", None)
    at = time.monotonic() + seconds
    _state.deadline = at if previous is None else min(previous, at)
    try:
        yield
    finally:
        _state.deadline = previous


def time_left() -> float | None:
    """Seconds until this thread's innermost :func:`deadline` (never below 0), or None outside any: a caller that may
    try again (an upstream retry) checks there is room for it."""
    at = getattr(_state, "deadline", None)
    return None if at is None else max(0.0, at - time.monotonic())


@contextlib.contextmanager
def request_deadline(context: Any, margin: float = 1.0) -> Iterator[None]:
    """Bound a Lambda invocation's upstream calls by the time it has left (``context.get_remaining_time_in_millis()``)
    less ``margin`` seconds, so a slow upstream or its retries end in the route's own 504 before Lambda's timeout."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        yield
        return
    with deadline(max(0.0, remaining() / 1000 - margin)):
        yield


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_state, "deadline", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("deadline exceeded")
    return left if timeout is None else min(timeout, left)


Connect = Callable[[str, int, "float | None"], socket.socket]


def pooled_client(
    *,
    connect_timeout: float,
    timeout: float,
    max_connections: int = 20,
    keepalive_expiry: float = 30.0,
    headers: dict[str, str] | None = None,
    verify: bool = True,
    connect: Connect | None = None,
) -> Any:
    """An ``httpx.Client`` with keep-alive pooling whose socket operations honour :func:`deadline`.

    ``connect_timeout`` bounds the TCP (and TLS) connect; ``timeout`` bounds every other phase and should
    equal the deadline the caller sets (a request may pass its own). ``verify=False`` skips TLS verification.
    ``connect(host, port, timeout)`` opens the TCP connection instead of a plain connect: the integrations'
    destination guard resolves and checks the address there. Build one per function instance (a ``@cached``
    factory). Redirects are not followed and proxies from the environment are ignored.
    """
    import ssl

    import certifi

    # HTTP/2 (about 15 ms of imports) and anyio (httpcore's async locks, ~2 ms): our clients speak HTTP/1.1 and are
    # synchronous (see core.imports)
    with hiding("h2", "anyio"):
        import httpcore
        import httpx
    from httpcore._backends.sync import SyncStream  # httpcore 1.0.x (pinned through httpx)

    # httpx logs every request URL at INFO and httpcore its traffic at DEBUG; our upstream URLs may carry
    # credentials (Microshare's token endpoint takes the password as a query parameter), so neither may
    # log below WARNING whatever level the root logger is set to. Our clients log their own calls, URL-free.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    class _Stream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream):
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.NetworkStream:
            return _Stream(
                self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
            )

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class _Backend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.SyncBackend()

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            timeout = _clamp(timeout, httpcore.ConnectTimeout)
            if connect is None:
                return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))
            try:
                sock = connect(host, port, timeout)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _Stream(SyncStream(sock))

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.NetworkStream:  # pragma: no cover
            return _Stream(
                self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout), socket_options)
            )

        def sleep(self, seconds: float) -> None:  # pragma: no cover - only used by retries, which are off
            self._inner.sleep(seconds)

    tls = ssl.create_default_context(cafile=certifi.where())
    if not verify:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE

    class _Transport(httpx.HTTPTransport):
        """httpx's transport (request mapping, exception mapping) over a pool with our backend."""

        def __init__(self) -> None:
            # Our TLS context, not a default one of httpx's: building one loads the CA bundle (~25 ms), and the
            # pool it would serve is replaced right away.
            super().__init__(verify=tls, trust_env=False)
            self._pool.close()
            self._pool = httpcore.ConnectionPool(
                ssl_context=tls,
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=keepalive_expiry,
                network_backend=_Backend(),
            )

    return httpx.Client(
        transport=_Transport(),
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        headers=headers,
        trust_env=False,
        follow_redirects=False,
    )


def is_timeout(exc: BaseException) -> bool:
    """Whether an httpx error means "no answer in time" (as opposed to a refused or broken connection)."""
    import httpx

    return isinstance(exc, httpx.TimeoutException)
