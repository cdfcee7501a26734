"""The flow engine's meter node end to end: a real local cloud process over real HTTP. Staff set up an estate, a
unit, an owner and a meter linked to a DevEUI, a tariff and a top-up; a device-manager user registers that device
and a flow device → meter; ChirpStack posts uplinks to the ingest Function URL (the local cloud's claims stream
starts the flow, its SQS poller runs it). The resident sees the readings and one debit, also when ChirpStack
sends an uplink again."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import ok, run_cli, wait_for
from tests.flow_support import v4_up

pytestmark = pytest.mark.e2e
INGEST = "/lambda-url/IngestFunction/api/v1/ingest/chirpstack"
PASSWORD = "correct horse battery"


def test_given_a_meter_flow_when_chirpstack_posts_and_resends_uplinks_then_the_wallet_is_debited_once(
    local_cloud, http
):
    tag = uuid.uuid4().hex[:10]
    made = run_cli(
        "create-admin", f"st-{tag}@example.com", f"st_{tag}", PASSWORD, "--data-dir", str(local_cloud.data_dir)
    )
    assert made.returncode == 0, made.stderr
    token = ok(http.post("/api/v1/auth/login", data={"username": f"st-{tag}@example.com", "password": PASSWORD}))
    staff = {"Authorization": f"Bearer {token['access_token']}"}
    eui = uuid.uuid4().hex[:16]

    estate = ok(http.post("/api/admin/estates", json={"name": f"Meters {tag}"}, headers=staff), 201)["estate"]
    unit_id = ok(http.post(f"/api/admin/estates/{estate['id']}/units", json={"unit_number": "7"}, headers=staff), 201)[
        "unit"
    ]["id"]
    phone = f"082{uuid.uuid4().int % 10**7:07d}"
    person = ok(
        http.post("/api/admin/persons", json={"first_name": "Ann", "last_name": "Lee", "phone": phone}, headers=staff),
        201,
    )["person"]
    owner = ok(http.post(f"/api/admin/units/{unit_id}/owners", json={"person_id": person["id"]}, headers=staff), 201)
    meter = {"serial_number": f"MTR-{tag}", "meter_type": "prepaid", "utility_type": "electricity", "dev_eui": eui}
    meter = ok(http.post(f"/api/admin/units/{unit_id}/meters", json=meter, headers=staff), 201)["meter"]
    ok(http.put(f"/api/admin/estates/{estate['id']}/tariffs/electricity", json={"flat_rate": 2}, headers=staff))
    ok(
        http.post(
            f"/api/admin/units/{unit_id}/wallet/topups", json={"amount": 100, "reference": "EFT-1"}, headers=staff
        ),
        201,
    )

    # the device-manager side: the device, an ingest key, the flow
    me = {"Authorization": f"Bearer {token['access_token']}"}
    key = ok(http.post("/api/v1/ingest/keys", json={"name": "ChirpStack"}, headers=me), 201)["key"]
    device = ok(http.post("/api/v1/devices", json={"dev_eui": eui, "name": "kWh"}, headers=me), 201)
    flow = {
        "name": "bill",
        "nodes": [{"id": "dev", "type": "device", "device_id": device["id"]}, {"id": "bill", "type": "meter"}],
        "edges": [{"source": "dev", "target": "bill"}],
    }
    flow = ok(http.post("/api/v1/flows", json=flow, headers=me), 201)

    def uplink(reading: float, dedup: str) -> dict:
        body = v4_up(eui, dedup=dedup)
        body["object"] = {"reading": reading}
        return ok(http.post(INGEST, json=body, headers={"X-API-Key": key}), 202)

    def runs() -> list[dict]:
        return ok(http.get(f"/api/v1/flows/{flow['id']}/history", headers=me))["items"]

    assert uplink(1000, f"a-{tag}")["status"] == "accepted"  # the baseline
    wait_for(lambda: len(runs()) == 1, what="the first run")
    assert uplink(1010, f"b-{tag}")["status"] == "accepted"
    assert uplink(1010, f"b-{tag}")["status"] == "duplicate"  # ChirpStack sends it again
    wait_for(lambda: len(runs()) == 2, what="the second run")

    temporary = owner["mobile_user"]["temporary_password"]
    login = ok(http.post("/api/mobile/auth/login", json={"phone_number": phone, "password": temporary}))
    resident = {"Authorization": f"Bearer {login['token']}"}
    ok(
        http.post(
            "/api/mobile/auth/change-password",
            json={"current_password": temporary, "new_password": "MyNewPass123"},
            headers=resident,
        )
    )
    login = ok(http.post("/api/mobile/auth/login", json={"phone_number": phone, "password": "MyNewPass123"}))
    resident = {"Authorization": f"Bearer {login['token']}"}
    wallet = ok(http.get(f"/api/mobile/units/{unit_id}/wallet", headers=resident))["wallet"]
    readings = ok(http.get(f"/api/mobile/meters/{meter['id']}/readings", params={"days": 3650}, headers=resident))
    assert wallet["balance"] == 80.0  # 100 topped up, 10 kWh at 2, once
    assert sorted(r["consumption"] for r in readings["readings"]) == [0.0, 10.0]
    assert all(r["status"] == "success" for r in runs())
