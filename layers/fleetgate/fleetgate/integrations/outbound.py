"""Outbound calls of integrations: HTTP through one pooled httpx client per function instance, MQTT through
paho-mqtt 2.x (MQTT v5), both behind the same destination guard.

The guard (server-side request forgery): a destination's host name is resolved and EVERY address it resolves
to is checked before connecting, and the connection goes to a checked address (no second lookup, so a DNS
answer cannot change between the check and the connect). Refused unless the deployment's ``OUTBOUND_ALLOW``
setting allows them: loopback (``loopback``), private ranges (``private``: RFC 1918, carrier-grade NAT, IPv6
unique-local), link-local (``link-local``) and anything listed as a CIDR there. Cloud metadata endpoints
(169.254.169.254, 169.254.170.2, fd00:ec2::254) are refused even when their range is allowed by keyword: only a
CIDR entry that contains them allows them. Multicast, reserved and other non-routable addresses are refused
unless a CIDR entry allows them. Redirects are not followed, and proxies from the environment are ignored.

HTTP goes through the shared pooled transport of :mod:`fleetgate.core.http`, its connections opened here. httpx and
paho are imported on first use, so functions that never call out don't load them.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fleetgate.core.http import pooled_client
from fleetgate.core.settings import cached, outbound_allow, outbound_deny

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
EXCERPT_CHARS = 1000
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Fleetgate/1.0"

_METADATA = tuple(ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254"))
_CATEGORIES: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {
    "loopback": tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128")),
    "private": tuple(
        ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
    ),
    "link-local": tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10")),
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The destination is not allowed (or cannot be resolved)."""


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address behind an IPv4-mapped or NAT64 IPv6 address (that is where the packets go)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def category(ip: IPAddress) -> str:
    """``metadata``, ``loopback``, ``private``, ``link-local``, ``reserved`` or ``public``."""
    ip = _unwrap(ip)
    if ip in _METADATA:
        return "metadata"
    for name, networks in _CATEGORIES.items():
        if any(ip in n for n in networks if n.version == ip.version):
            return name
    return "public" if ip.is_global and not ip.is_multicast else "reserved"


def _allow_list(entries: Iterable[str]) -> tuple[set[str], list[Any]]:
    keywords, networks = set(), []
    for entry in entries:
        if entry in _CATEGORIES:
            keywords.add(entry)
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # an unknown word allows nothing
    return keywords, networks


def refusal(ip: IPAddress, allow: Iterable[str] | None = None) -> str | None:
    """Why ``ip`` may not be contacted, or None when it may."""
    keywords, networks = _allow_list(outbound_allow() if allow is None else allow)
    real = _unwrap(ip)
    if any(real in n for n in networks if n.version == real.version):
        return None
    kind = category(ip)
    if kind == "public" or kind in keywords:
        return None
    what = {
        "metadata": "a cloud metadata address",
        "loopback": "a loopback address",
        "private": "a private-network address",
        "link-local": "a link-local address",
        "reserved": "not a public address",
    }[kind]
    return f"destination {real} is {what}; outbound calls to it are not allowed here"


def allowed_addresses(host: str, port: int) -> list[tuple[str, int]]:
    """Resolve ``host`` and check every address; the addresses to connect to, or :class:`Refused`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys((info[4][0], info[4][1]) for info in infos))
    if not addresses:
        raise Refused(f"cannot resolve {host}")
    for address, _ in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        reason = refusal(ip) or _denied(ip, port)
        if reason:
            raise Refused(reason)
    return addresses


def _denied(ip: IPAddress, port: int) -> str | None:
    """``OUTBOUND_DENY`` entries (``<keyword or CIDR>:<port>``) refuse a port even where its range is allowed:
    the local cloud names its own AWS endpoints, so an integration can never reach them."""
    for entry in outbound_deny():
        where, _, denied_port = entry.rpartition(":")
        if denied_port != str(port):
            continue
        keywords, networks = _allow_list([where])
        real = _unwrap(ip)
        if category(ip) in keywords or any(real in n for n in networks if n.version == real.version):
            return f"destination {real} port {port} is not allowed here"
    return None


def _connect(addresses: list[tuple[str, int]], timeout: float | None) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


# ------------------------------------------------------------------ outcome
@dataclass
class Outcome:
    success: bool
    latency_ms: float
    status_code: int | None = None
    response_excerpt: str | None = None
    error: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


# ------------------------------------------------------------------ HTTP
@cached
def http_client(verify: bool = True) -> Any:
    """The pooled client of this function instance (one per TLS-verification mode: httpx sets it per client),
    connecting only to checked addresses. Each send passes its integration's own timeout."""
    return pooled_client(
        connect_timeout=10.0,
        timeout=10.0,
        verify=verify,
        headers={"user-agent": USER_AGENT},
        connect=lambda host, port, timeout: _connect(allowed_addresses(host, port), timeout),
    )


def send_http(
    *,
    url: str,
    method: str,
    headers: dict[str, str],
    timeout: float,
    verify_tls: bool,
    payload: dict[str, Any],
    masked_request: dict[str, Any] | None = None,
) -> Outcome:
    """Send ``payload`` as JSON; success is a 2xx answer. Never raises for the destination's faults."""
    import ssl

    import httpx

    body = json.dumps(payload, separators=(",", ":"))
    send_body = method not in ("GET", "DELETE", "HEAD")
    hdrs = dict(headers)
    if send_body and not any(k.lower() == "content-type" for k in hdrs):
        hdrs["content-type"] = "application/json"
    request = masked_request or {"method": method, "url": url}
    request = {**request, "body": _excerpt(body) if send_body else None}
    started = time.perf_counter()
    try:
        with http_client(verify_tls).stream(
            method, url, headers=hdrs, content=body if send_body else None, timeout=timeout
        ) as resp:
            raw = b""
            for chunk in resp.iter_bytes():
                raw += chunk
                if len(raw) >= MAX_RESPONSE_BYTES:
                    break
        latency = (time.perf_counter() - started) * 1000
        text = _excerpt(raw.decode(resp.encoding or "utf-8", errors="replace"))
        ok = 200 <= resp.status_code < 300
        return Outcome(
            success=ok,
            latency_ms=round(latency, 2),
            status_code=resp.status_code,
            response_excerpt=text,
            error=None if ok else f"HTTP {resp.status_code} {resp.reason_phrase}".strip(),
            request=request,
            response={"status_code": resp.status_code, "body": text, "content_type": resp.headers.get("content-type")},
        )
    except Refused as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = f"timed out after {timeout:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except (ssl.SSLError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Outcome(
        success=False, latency_ms=round((time.perf_counter() - started) * 1000, 2), error=error, request=request
    )


# ------------------------------------------------------------------ MQTT
@cached
def _mqtt_client_class() -> Any:
    import paho.mqtt.client as mqtt

    class GuardedClient(mqtt.Client):
        """paho's client, connecting only to checked addresses; TLS still verifies the host name."""

        def _create_socket_connection(self) -> socket.socket:
            return _connect(allowed_addresses(self._host, self._port), self._connect_timeout)

    return GuardedClient


def send_mqtt(
    *,
    host: str,
    port: int,
    topic: str,
    qos: int,
    retain: bool,
    username: str | None,
    password: str | None,
    tls: bool,
    verify_tls: bool,
    timeout: float,
    client_id: str | None,
    payload: dict[str, Any],
    masked_request: dict[str, Any] | None = None,
) -> Outcome:
    """Connect (MQTT v5), publish one message, wait for the acknowledgement its QoS asks for, disconnect."""
    import ssl

    from paho.mqtt.client import MQTTv5
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

    body = json.dumps(payload, separators=(",", ":"))
    request = {
        **(masked_request or {"host": host, "port": port, "topic": topic}),
        "qos": qos,
        "retain": retain,
        "body": _excerpt(body),
    }
    started = time.perf_counter()
    deadline = started + timeout
    client = _mqtt_client_class()(
        CallbackAPIVersion.VERSION2, protocol=MQTTv5, client_id=client_id or f"fleetgate-{uuid.uuid4().hex[:12]}"
    )
    client.connect_timeout = timeout
    if username:
        client.username_pw_set(username, password)
    if tls:
        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client.tls_set_context(context)
    state: dict[str, Any] = {}
    client.on_connect = lambda _c, _u, _f, reason, _p: state.setdefault("connack", reason)
    error: str | None = None
    try:
        client.connect(host, port, keepalive=max(10, int(timeout) + 5))
        while "connack" not in state and time.perf_counter() < deadline:
            if client.loop(timeout=0.05) not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                break
        reason = state.get("connack")
        if reason is None:
            error = "the broker did not accept the connection in time (no CONNACK)"
        elif reason.is_failure:
            error = f"the broker refused the connection: {reason}"
        else:
            info = client.publish(topic, body, qos=qos, retain=retain)
            while not info.is_published() and time.perf_counter() < deadline:
                if client.loop(timeout=0.05) not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                    break
            if not info.is_published():
                error = f"the broker did not acknowledge the message within {timeout:g} s (qos {qos})"
            else:
                latency = (time.perf_counter() - started) * 1000
                text = f"published {len(body)} bytes to {topic} (qos {qos}{', retained' if retain else ''})"
                return Outcome(
                    success=True,
                    latency_ms=round(latency, 2),
                    response_excerpt=text,
                    request=request,
                    response={"mid": info.mid, "qos": qos},
                )
    except Refused as exc:
        error = str(exc)
    except TimeoutError:
        error = f"timed out connecting after {timeout:g} s"
    except (ssl.SSLError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.01)
        except Exception:
            pass
        try:
            if client.socket() is not None:
                client.socket().close()
        except Exception:
            pass
    return Outcome(
        success=False, latency_ms=round((time.perf_counter() - started) * 1000, 2), error=error, request=request
    )
