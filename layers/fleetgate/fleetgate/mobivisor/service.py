"""Mobivisor proxy logic: forward, then map the upstream's answer to the contract's statuses and bodies.

- 2xx: the upstream JSON, unchanged (DELETE answers the contract's confirmation);
- 401/403: the same status, "Unauthorized", with upstream_status;
- 404: "Not Found";
- any other status, or a 2xx whose body is not JSON: 502 with upstream_status and upstream_error;
- unreachable: 502; no complete answer within the deadline: 504 (client.py);
- URL or token missing: 500 "Configuration Error" (client.py).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from fleetgate.core.errors import BadGateway, NotFound, UpstreamUnauthorized
from fleetgate.mobivisor import client
from fleetgate.mobivisor.schemas import DeviceDeleted, MobivisorDevice, MobivisorDevices


def _params(raw_query: str | None) -> list[tuple[str, str]]:
    return parse_qsl(raw_query or "", keep_blank_values=True)


def _checked(reply: client.Reply, *, want_json: bool) -> client.Reply:
    status = reply.status
    if status in (401, 403):
        raise UpstreamUnauthorized(
            "Invalid or missing Bearer token for Mobivisor API", status=status, extra={"upstream_status": status}
        )
    if status == 404:
        raise NotFound("Resource not found on Mobivisor API")
    if not 200 <= status < 300:
        raise BadGateway(
            f"Mobivisor API returned error {status}", extra={"upstream_status": status, "upstream_error": reply.body}
        )
    if want_json and not reply.is_json:
        raise BadGateway(
            "Mobivisor API returned an invalid response",
            extra={"upstream_status": status, "upstream_error": reply.body},
        )
    return reply


def list_devices(raw_query: str | None = None) -> MobivisorDevices:
    reply = _checked(client.call("GET", ["devices"], _params(raw_query)), want_json=True)
    return MobivisorDevices(reply.body)


def _id(device_id: str) -> str:
    """The id as the caller meant it: a path segment may still be percent-encoded (client.py encodes it once)."""
    return unquote(device_id)


def get_device(device_id: str, raw_query: str | None = None) -> MobivisorDevice:
    reply = _checked(client.call("GET", ["devices", _id(device_id)], _params(raw_query)), want_json=True)
    return MobivisorDevice(reply.body)


def delete_device(device_id: str, raw_query: str | None = None) -> DeviceDeleted:
    """Needs mobivisor:write (functions/mobivisor/app.py)."""
    device_id = _id(device_id)
    _checked(client.call("DELETE", ["devices", device_id], _params(raw_query)), want_json=False)
    return DeviceDeleted(message="Device deleted successfully", device_id=device_id)
