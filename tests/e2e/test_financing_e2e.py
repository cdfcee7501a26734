"""Financed phones end to end: a real local cloud process over real HTTP, its SQS poller sending lock commands
through firebase-admin to a fake FCM on 127.0.0.1 (``--param FcmEndpoint=...``), and the enforcement function
run with ``python -m localcloud invoke`` against it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningCloud, run_cli, start_cloud, wait_for
from tests.fakes import FakeFcm
from tests.financing_support import customer_body

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
DEVICE = "/api/customer/device"
ADMIN = "/api/admin/customers"


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, fcm) -> Iterator[RunningCloud]:
    running = start_cloud(
        tmp_path_factory.mktemp("financing-cloud"),
        "--param",
        f"FcmEndpoint={fcm.url}",
        "--param",
        "FcmProjectId=fleetgate-e2e",
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def http(cloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def admin(cloud, http) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    email = f"staff-{tag}@example.com"
    created = run_cli("create-admin", email, f"staff_{tag}", PASSWORD, "--data-dir", str(cloud.data_dir))
    assert created.returncode == 0, created.stderr
    token = http.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def received(fcm: FakeFcm, token: str, kind: str) -> list[dict]:
    """What the fake FCM received for ``token``: ``kind`` is an action (LOCK_DEVICE) or a type (EMI_REMINDER)."""
    return [
        m
        for m in fcm.messages()
        if m.get("token") == token and kind in (m["data"].get("action"), m["data"].get("type"))
    ]


def new_customer(http: httpx.Client, admin: dict, **kwargs: Any) -> dict:
    reply = http.post(ADMIN, json=customer_body(**kwargs), headers=admin)
    assert reply.status_code == 201, reply.text
    return reply.json()["data"]


def register(http: httpx.Client, customer: dict) -> str:
    token = f"e2e-{uuid.uuid4().hex}"
    body = {"fcmToken": token, "imei1": customer["imei1"], "devicePin": "4321", "latitude": 28.7, "longitude": 77.1}
    reply = http.put(f"{DEVICE}/fcm-token", json=body)
    assert reply.status_code == 200, reply.text
    return token


def answer(http: httpx.Client, customer: dict, action: str) -> dict:
    body = {"imei1": customer["imei1"], "lockSuccess": True, "action": action}
    reply = http.post(f"{DEVICE}/lock-response", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def test_given_a_registered_phone_when_staff_lock_then_fcm_the_phone_confirms_and_paying_unlocks_it(http, admin, fcm):
    # given a customer with an overdue instalment whose phone registered its token
    customer = new_customer(http, admin, due_in_days=(-3, 27))
    token = register(http, customer)

    # when staff lock the phone, FCM receives the contract's lock message
    locked = http.put(f"{ADMIN}/{customer['customerId']}/lock", json={"isLocked": True}, headers=admin)
    assert locked.status_code == 200 and locked.json()["data"]["lockStatusUpdated"] is False
    [message] = wait_for(lambda: received(fcm, token, "LOCK_DEVICE"), what="the lock message at the fake FCM")
    assert message["notification"]["title"] == "Device Lock Alert" and message["android"]["priority"] == "high"
    assert http.get(f"{DEVICE}/status/{customer['imei1']}").json()["data"]["isLocked"] is False  # not confirmed yet

    # the phone locks and confirms: its status shows it locked
    assert answer(http, customer, "LOCK_DEVICE")["currentLockStatus"] is True
    status = http.get(f"{DEVICE}/status/{customer['imei1']}").json()["data"]
    assert (status["isLocked"], status["pendingEmiCount"]) == (True, 1)

    # staff mark the overdue instalment paid: an unlock goes out, and the phone's confirmation unlocks it
    paid = http.put(f"{ADMIN}/{customer['customerId']}/emis/m1", json={"paid": True}, headers=admin)
    assert paid.status_code == 200 and paid.json()["data"]["unlockCommandId"]
    wait_for(lambda: received(fcm, token, "UNLOCK_DEVICE"), what="the unlock message at the fake FCM")
    assert answer(http, customer, "UNLOCK_DEVICE")["currentLockStatus"] is False
    status = http.get(f"{DEVICE}/status/{customer['imei1']}").json()["data"]
    assert (status["isLocked"], status["hasPendingEmis"]) == (False, False)
    trail = http.get(f"{ADMIN}/{customer['customerId']}/commands", headers=admin).json()["data"]["items"]
    assert [e["type"] for e in reversed(trail)] == [
        "COMMAND",
        "DELIVERY_ATTEMPT",
        "LOCK_RESPONSE",
        "COMMAND",
        "DELIVERY_ATTEMPT",
        "LOCK_RESPONSE",
    ]


def test_given_overdue_customers_when_enforcement_is_invoked_then_lock_and_remind_and_a_second_run_issues_nothing(
    cloud, http, admin, fcm, tmp_path
):
    late = new_customer(http, admin, due_in_days=(-9, 21))
    recent = new_customer(http, admin, due_in_days=(-1, 29))
    late_token, recent_token = register(http, late), register(http, recent)
    event = json.loads(open("events/emi-enforcement-schedule.json").read())
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "event.json").write_text(json.dumps(event))

    def invoke() -> dict:
        result = run_cli(
            "invoke", "EmiEnforcementFunction", str(tmp_path / "event.json"), "--data-dir", str(cloud.data_dir)
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first = invoke()
    assert first["locked"] >= 1 and first["reminded"] >= 1 and first["complete"] is True
    wait_for(lambda: received(fcm, late_token, "LOCK_DEVICE"), what="the enforcement lock at the fake FCM")
    wait_for(lambda: received(fcm, recent_token, "EMI_REMINDER"), what="the reminder at the fake FCM")
    assert received(fcm, recent_token, "LOCK_DEVICE") == []
    lock_status = http.get(f"{ADMIN}/{late['customerId']}/lock-status", headers=admin).json()["data"]
    assert lock_status["pendingCommand"]["action"] == "LOCK_DEVICE"

    second = invoke()
    assert (second["locked"], second["reminded"]) == (0, 0)
    time.sleep(1)
    assert len(received(fcm, late_token, "LOCK_DEVICE")) == 1
    assert len(received(fcm, recent_token, "EMI_REMINDER")) == 1
    again = http.get(f"{ADMIN}/{late['customerId']}/lock-status", headers=admin).json()["data"]
    assert again["pendingCommand"]["commandId"] == lock_status["pendingCommand"]["commandId"]
    assert datetime.fromisoformat(again["pendingCommand"]["expiresAt"].replace("Z", "+00:00")) > datetime.now(
        UTC
    ) + timedelta(hours=23)


def test_given_make_dev_without_an_fcm_endpoint_then_its_own_fake_fcm_takes_the_lock_and_logs_no_token(local_cloud):
    # given the local cloud as `make dev` starts it (no FcmEndpoint parameter)
    state = json.loads((local_cloud.data_dir / "state.json").read_text())
    assert state["fcm_endpoint"].startswith("http://127.0.0.1:")
    assert f"FCM            {state['fcm_endpoint']}" in local_cloud.output()
    with httpx.Client(base_url=local_cloud.url, timeout=30) as client:
        tag = uuid.uuid4().hex[:8]
        email = f"dev-{tag}@example.com"
        made = run_cli("create-admin", email, f"dev_{tag}", PASSWORD, "--data-dir", str(local_cloud.data_dir))
        assert made.returncode == 0, made.stderr
        login = client.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD}).json()
        staff = {"Authorization": f"Bearer {login['access_token']}"}
        customer = new_customer(client, staff)
        token = register(client, customer)

        # when staff lock the phone
        assert client.put(f"{ADMIN}/{customer['customerId']}/lock", json={"isLocked": True}, headers=staff).is_success

        # then the fake FCM accepted it (the attempt is SENT in the trail) and logged it without the token
        def sent() -> list[dict]:
            trail = client.get(f"{ADMIN}/{customer['customerId']}/commands", headers=staff).json()["data"]["items"]
            return [e for e in trail if e.get("outcome") == "SENT"]

        wait_for(sent, what="the first send")
    wait_for(lambda: "DEVICE_LOCK_STATUS LOCK_DEVICE" in local_cloud.output(), what="the fake FCM's log line")
    assert token not in local_cloud.output()
