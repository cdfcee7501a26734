"""The demo ``make dev`` seeds on an empty database, so a newcomer has something to look at and poke at once.

An admin account; a device labelled ``demo``; a JavaScript function turning Celsius into Fahrenheit; an HTTP
integration posting to a sink the local cloud serves (:mod:`localcloud.sink`); a flow wiring them (the label
triggers it); an ingest key; and a few ChirpStack uplinks already sent through it. Everything is made through the
API's own routes (real API Gateway events, in this process), as a client would make it, except the admin, who is
bootstrapped like ``create-admin`` does. It exists only in the local cloud: nothing in the template or the layer
knows of it, and ``serve --no-demo`` starts empty.
"""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from localcloud.lambdas import Functions, ensure_import_paths

EMAIL, USERNAME, PASSWORD = "demo@fleetgate.local", "demo", "fleetgate-demo"
DEV_EUI = "a84041000181c0de"
TO_FAHRENHEIT = (
    "function process(msg) {\n"
    "  msg.data.temperatureF = Math.round((msg.data.temperature * 9 / 5 + 32) * 10) / 10;\n"
    "  return msg;\n"
    "}"
)
SEEDED_TEMPERATURES = (19.5, 21.0, 22.5)
INGEST_PATH = "/api/v1/ingest/chirpstack?event=up"


@dataclass
class Demo:
    token: str  # a bearer token of the demo admin, for Swagger's Authorize
    ingest_key: str | None  # None when the demo was seeded by an earlier start (the key is shown once)
    device_id: str
    flow_id: str


def uplink(temperature: float, f_cnt: int, *, dedup: str | None = None) -> dict[str, Any]:
    """A ChirpStack v4 ``up`` event of the demo device, as ChirpStack's HTTP integration posts it (JSON)."""
    body: dict[str, Any] = {
        "time": "2026-11-29T12:00:00+00:00",
        "deviceInfo": {"deviceName": "demo-thermometer", "devEui": DEV_EUI, "applicationName": "demo"},
        "fCnt": f_cnt,
        "fPort": 85,
        "data": "AXVc",
        "object": {"temperature": temperature, "humidity": 48},
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 7.5}],
    }
    if dedup:
        body = {"deduplicationId": dedup, **body}
    return body


def curl_command(api_url: str, ingest_key: str) -> str:
    """The command the banner prints: a new uplink (23.5 °C) to the ingest route; 202 and the flow runs."""
    body = json.dumps(uplink(23.5, 100), separators=(",", ":"))
    return (
        f"curl -s -X POST {shlex.quote(api_url + INGEST_PATH)} -H 'Content-Type: application/json' "
        f"-H {shlex.quote('X-API-Key: ' + ingest_key)} -d {shlex.quote(body)}"
    )


class _Client:
    def __init__(self, functions: Functions) -> None:
        self.functions, self.token = functions, ""

    def call(self, method: str, path: str, body: Any = None, *, expect: int, **headers: str) -> Any:
        """One JSON request as the demo admin; anything but ``expect`` stops the start, saying why."""
        sent = {"content-type": "application/json", "authorization": f"Bearer {self.token}", **headers}
        reply = self.functions.http(method, path, sent, None if body is None else json.dumps(body))
        if reply.status != expect:
            raise RuntimeError(f"demo seeding: {method} {path} answered {reply.status}: {reply.body[:300]!r}")
        return reply.json()


def seed(functions: Functions, sink_url: str) -> Demo | None:
    """Seed the demo unless its admin exists already (a kept DynamoDB Local database): then only a new token, or
    None when its password was changed since."""
    ensure_import_paths()  # the layer is importable once the paths are set (as create-admin does)
    from fleetgate.users import service as users

    _, created = users.create_admin(EMAIL, USERNAME, PASSWORD)
    client = _Client(functions)
    login = functions.http(
        "POST",
        "/api/v1/auth/login",
        {"content-type": "application/x-www-form-urlencoded"},
        urlencode({"username": EMAIL, "password": PASSWORD}),
    )
    if login.status != 200:  # seeded by an earlier start (a kept database), its password changed since
        return None
    client.token = login.json()["access_token"]
    if not created:
        flows = client.call("GET", "/api/v1/flows", expect=200)["items"]
        devices = client.call("GET", "/api/v1/devices", expect=200)["items"]
        return Demo(client.token, None, devices[0]["id"] if devices else "", flows[0]["id"] if flows else "")
    label = client.call("POST", "/api/v1/labels", {"name": "demo", "description": "Demo devices"}, expect=201)
    device = client.call(
        "POST",
        "/api/v1/devices",
        {"dev_eui": DEV_EUI, "name": "Demo thermometer", "description": "Sends its temperature in °C"},
        expect=201,
    )
    client.call("PUT", f"/api/v1/devices/{device['id']}/labels", {"label_ids": [label["id"]]}, expect=200)
    function = client.call(
        "POST", "/api/v1/functions", {"name": "Celsius to Fahrenheit", "code": TO_FAHRENHEIT}, expect=201
    )
    integration = client.call(
        "POST",
        "/api/v1/integrations",
        {"name": "Demo sink", "type": "http", "config": {"url": f"{sink_url}/uplinks", "method": "POST"}},
        expect=201,
    )
    flow = client.call(
        "POST",
        "/api/v1/flows",
        {
            "name": "Demo: °C to °F to the sink",
            "nodes": [
                {"id": "demo", "type": "label", "label_id": label["id"]},
                {"id": "toF", "type": "function", "function_id": function["id"]},
                {"id": "sink", "type": "integration", "integration_id": integration["id"]},
            ],
            "edges": [{"source": "demo", "target": "toF"}, {"source": "toF", "target": "sink"}],
        },
        expect=201,
    )
    key = client.call("POST", "/api/v1/ingest/keys", {"name": "Demo ChirpStack"}, expect=201)["key"]
    for n, temperature in enumerate(SEEDED_TEMPERATURES, start=1):
        client.call(
            "POST", INGEST_PATH, uplink(temperature, n, dedup=str(uuid.uuid4())), expect=202, **{"x-api-key": key}
        )
    return Demo(client.token, key, device["id"], flow["id"])


def banner_lines(demo: Demo | None, api_url: str, sink_url: str) -> list[str]:
    if demo is None:
        return [f"  Demo           seeded by an earlier start ({EMAIL}; its password was changed since)"]
    lines = [
        f"  Demo login     {EMAIL} / {PASSWORD}   (admin; POST /api/v1/auth/login, or Authorize in /docs)",
        f"  Demo token     {demo.token}",
        f"  Demo flow      {api_url}/api/v1/flows/{demo.flow_id}/history   (label demo -> °C to °F -> sink)",
        f"  Demo sink      {sink_url}/   (what the flow delivered)",
    ]
    if demo.ingest_key:
        lines += [
            f"  Ingest key     {demo.ingest_key}",
            f"  Try            {curl_command(api_url, demo.ingest_key)}",
        ]
    else:
        lines.append("  Ingest key     (seeded by an earlier start; make a new one: POST /api/v1/ingest/keys)")
    return lines
