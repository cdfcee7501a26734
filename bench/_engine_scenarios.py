"""bench/routes.py scenarios of the ingest, ingest-key and dead-letter routes (kept apart from routes.py's own list).

``engine_scenarios(client, world, Scenario, Req)`` seeds what they need (an ingest key, a device with a label and a
flow, dead letters) in the running mock and returns the scenarios; routes.py passes its own classes in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from _benchlib import new_eui


def _uplink(eui: str) -> dict[str, Any]:
    return {
        "deduplicationId": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),  # ChirpStack stamps the reception: about now
        "deviceInfo": {"devEui": eui, "deviceName": "bench"},
        "fCnt": 1,
        "fPort": 85,
        "data": "AXVc",
        "object": {"temperature": 21.5},
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -90, "snr": 8}],
    }


def engine_scenarios(client: Any, world: dict[str, Any], Scenario: Any, Req: Any) -> list[Any]:
    import boto3

    from fleetgate.core.ids import now_iso
    from fleetgate.engine import repository
    from fleetgate.engine.schemas import DeadLetter
    from localcloud.template import stack

    stack().create_queues(boto3.client("sqs", region_name="us-east-1"))
    t = world["user"]["token"]
    key = client.ok("POST", "/api/v1/ingest/keys", 201, token=t, json_body={"name": "bench"})["key"]
    eui = new_eui()
    device = client.ok("POST", "/api/v1/devices", 201, token=t, json_body={"dev_eui": eui, "name": "ingest"})
    client.ok(
        "PUT", f"/api/v1/devices/{device['id']}/labels", 200, token=t, json_body={"label_ids": world["labels"][:1]}
    )
    flow = client.ok(
        "POST",
        "/api/v1/flows",
        201,
        token=t,
        json_body={
            "name": "bench",
            "nodes": [
                {"id": "d", "type": "device", "device_id": device["id"]},
                {"id": "w", "type": "delay", "seconds": 60},
            ],
            "edges": [{"source": "d", "target": "w"}],
        },
    )

    def dead_letter(_: int) -> Any:
        repository.put_dead_letter(
            DeadLetter(
                id=f"20261122T000000000Z-{uuid.uuid4().hex[:12]}",
                flow_id=flow["id"],
                run_id=str(uuid.uuid4()),
                node_id="w",
                node_type="integration",
                attempts=5,
                last_error="HTTP 500",
                failed_at=now_iso(),
                status="pending",
                message={"data": {"t": 1}},
            ),
            flow["owner_id"],
        )
        return Req(f"/api/v1/flows/{flow['id']}/dead-letters/replay", t, json_body={})

    def new_key(_: int) -> Any:
        created = client.ok("POST", "/api/v1/ingest/keys", 201, token=t, json_body={"name": "gone"})
        return Req(f"/api/v1/ingest/keys/{created['id']}", t)

    def revoke(req: Any, resp: Any) -> None:
        client.ok("DELETE", f"/api/v1/ingest/keys/{resp.json()['id']}", 204, token=t)

    ingest: Callable[[int], Any] = lambda i: Req(  # noqa: E731
        "/api/v1/ingest/chirpstack?event=up", json_body=_uplink(eui), ctx={"headers": {"x-api-key": key}}
    )
    return [
        Scenario("GET", "/api/v1/ingest/keys", lambda i: Req("/api/v1/ingest/keys", t)),
        Scenario(
            "POST",
            "/api/v1/ingest/keys",
            lambda i: Req("/api/v1/ingest/keys", t, json_body={"name": f"bench {i}"}),
            201,
            after=revoke,
        ),
        Scenario("DELETE", "/api/v1/ingest/keys/{key_id}", new_key, 204),
        Scenario("POST", "/api/v1/ingest/chirpstack", ingest, 202),
        Scenario(
            "GET", "/api/v1/flows/{flow_id}/dead-letters", lambda i: Req(f"/api/v1/flows/{flow['id']}/dead-letters", t)
        ),
        Scenario("POST", "/api/v1/flows/{flow_id}/dead-letters/replay", dead_letter, 202),
    ]
