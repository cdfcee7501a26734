"""The customer-device routes (../shared/specs/customer-device-api.md) through real API Gateway v2 events: the
contract's bodies and messages, exact error bodies, the PIN kept as a hash, rate limits, DynamoDB calls."""

from __future__ import annotations

import time

import pytest

from tests.budgets.financing import EXPECTED
from tests.financing_support import (
    DEVICE,
    new_imei,
    secret_pin,
    secret_token,
)

pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")

NOT_FOUND = {"success": False, "message": "Customer not found with this IMEI", "error": "CUSTOMER_NOT_FOUND"}
BAD_PATH_IMEI = {
    "success": False,
    "message": "Invalid IMEI format. Must be exactly 15 digits",
    "error": "VALIDATION_ERROR",
}


def invalid(*fields: tuple[str, str]) -> dict:
    return {
        "success": False,
        "message": "Validation failed",
        "error": "VALIDATION_ERROR",
        "details": [{"msg": msg, "param": p, "path": p, "location": "body"} for p, msg in fields],
    }


def test_given_a_customer_when_the_phone_registers_with_pin_and_location_then_the_contract_answer(api, staff):
    customer = staff.customer()
    token, pin = secret_token(), secret_pin()

    reply = api.call(
        "PUT",
        f"{DEVICE}/fcm-token",
        json_body={
            "fcmToken": token,
            "imei1": customer["imei1"],
            "devicePin": pin,
            "latitude": 28.7041,
            "longitude": 77.1025,
        },
    )

    assert reply.status == 200
    data = reply.body["data"]
    assert reply.body == {
        "success": True,
        "message": "FCM token registered successfully",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "isLocked": False,
            "location": {"latitude": 28.7041, "longitude": 77.1025, "lastUpdated": data["updatedAt"]},
            "updatedAt": data["updatedAt"],
        },
    }
    assert len(data["customerId"]) == 24 and int(data["customerId"], 16) >= 0
    assert data["updatedAt"].endswith("Z") and len(data["updatedAt"]) == len("2025-12-22T14:45:30.000Z")
    assert reply.ddb_calls == EXPECTED[("PUT", "/api/customer/device/fcm-token")]
    # the PIN is kept as an argon2id hash only, and no answer shows it or the token
    from argon2 import PasswordHasher

    from fleetgate.financing import repository

    stored = repository.get(customer["customerId"])
    assert stored.pin_hash.startswith("$argon2id$") and pin not in stored.pin_hash
    assert PasswordHasher().verify(stored.pin_hash, pin)
    seen = staff.call("GET", f"/api/admin/customers/{customer['customerId']}").body
    assert pin not in str(seen) and token not in str(seen) and seen["data"]["hasDevicePin"] is True


def test_given_a_token_only_update_and_no_stored_location_then_the_answer_has_no_location(api, staff):
    customer = staff.customer()
    reply = api.call("PUT", f"{DEVICE}/fcm-token", json_body={"fcmToken": secret_token(), "imei1": customer["imei1"]})
    assert reply.status == 200 and "location" not in reply.body["data"]
    assert staff.lock_status(customer)["hasFcmToken"] is True


def test_given_invalid_registrations_then_400_with_one_detail_per_field_and_never_the_value(api, staff):
    pin = secret_pin()[:3]
    reply = api.call(
        "PUT",
        f"{DEVICE}/fcm-token",
        json_body={"fcmToken": "", "imei1": "12345", "devicePin": pin, "latitude": 91, "longitude": -181},
    )
    assert reply.status == 400
    assert reply.body == invalid(
        ("fcmToken", "FCM token is required"),
        ("imei1", "IMEI1 must be exactly 15 digits"),
        ("devicePin", "Device PIN must be 4-6 digits"),
        ("latitude", "Latitude must be between -90 and 90"),
        ("longitude", "Longitude must be between -180 and 180"),
    )
    assert reply.ddb_calls == []  # refused before anything is read or counted

    missing = api.call("PUT", f"{DEVICE}/fcm-token", json_body={"imei1": new_imei(), "latitude": 10})
    assert missing.body == invalid(("fcmToken", "FCM token is required"))
    alone = api.call("PUT", f"{DEVICE}/fcm-token", json_body={"fcmToken": "t", "imei1": new_imei(), "latitude": 10})
    assert alone.body == invalid(("longitude", "Longitude must be between -180 and 180"))


def test_given_invalid_lock_responses_and_locations_then_the_samples_messages(api, staff):
    reply = api.call(
        "POST", f"{DEVICE}/lock-response", json_body={"imei1": new_imei(), "lockSuccess": "maybe", "action": "LOCK"}
    )
    assert reply.status == 400
    assert reply.body == invalid(
        ("lockSuccess", "lockSuccess must be a boolean"),
        ("action", "action must be either LOCK_DEVICE or UNLOCK_DEVICE"),
    )
    reply = api.call("POST", f"{DEVICE}/location", json_body={"imei1": "abc", "latitude": -90.5, "longitude": "x"})
    assert reply.body == invalid(
        ("imei1", "IMEI1 must be exactly 15 digits"),
        ("latitude", "Latitude must be between -90 and 90"),
        ("longitude", "Longitude must be between -180 and 180"),
    )
    broken = api.call("POST", f"{DEVICE}/location", raw="{not json", headers={"content-type": "application/json"})
    assert broken.status == 400 and broken.body["error"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("route", ["status", "location"])
def test_given_a_malformed_imei_in_the_path_then_400_with_the_contracts_body(api, staff, route):
    for imei in ("12345678901234", "1234567890123456", "12345678901234x"):
        reply = api.call("GET", f"{DEVICE}/{route}/{imei}")
        assert (reply.status, reply.body) == (400, BAD_PATH_IMEI)


def test_given_an_unknown_imei_then_every_route_answers_404_customer_not_found(api, staff):
    imei = new_imei()
    replies = [
        api.call("PUT", f"{DEVICE}/fcm-token", json_body={"fcmToken": secret_token(), "imei1": imei}),
        api.call(
            "POST", f"{DEVICE}/lock-response", json_body={"imei1": imei, "lockSuccess": True, "action": "LOCK_DEVICE"}
        ),
        api.call("GET", f"{DEVICE}/status/{imei}"),
        api.call("GET", f"{DEVICE}/location/{imei}"),
        api.call("POST", f"{DEVICE}/location", json_body={"imei1": imei, "latitude": 1.5, "longitude": 2.5}),
    ]
    assert [(r.status, r.body) for r in replies] == [(404, NOT_FOUND)] * 5


def test_given_instalments_due_and_not_when_reading_the_status_then_only_unpaid_due_ones_count(api, staff):
    customer = staff.customer(due_in_days=(-40, -10, 0, 20))
    staff.call("PUT", f"/api/admin/customers/{customer['customerId']}/emis/m1", {"paid": True})

    reply = api.call("GET", f"{DEVICE}/status/{customer['imei1']}")

    assert reply.status == 200
    assert reply.body == {
        "success": True,
        "message": "Customer status fetched successfully",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "mobileNumber": "9876543210",
            "isLocked": False,
            "hasPendingEmis": True,
            "pendingEmiCount": 2,  # 10 days late and due today; not the paid one nor the future one
            "registeredAt": customer["createdAt"],
            "lastUpdated": reply.body["data"]["lastUpdated"],
        },
    }
    assert reply.ddb_calls == EXPECTED[("GET", "/api/customer/device/status/{imei1}")]


def test_given_no_location_then_404_and_after_the_phone_reports_one_then_it_is_served(api, staff):
    customer = staff.customer()
    imei = customer["imei1"]
    none = api.call("GET", f"{DEVICE}/location/{imei}")
    assert (none.status, none.body) == (
        404,
        {"success": False, "message": "Location data not available for this customer", "error": "LOCATION_NOT_FOUND"},
    )

    posted = api.call("POST", f"{DEVICE}/location", json_body={"imei1": imei, "latitude": 28.705, "longitude": 77.103})
    at = posted.body["data"]["location"]["lastUpdated"]
    assert posted.status == 200
    assert posted.body == {
        "success": True,
        "message": "Location updated successfully",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "location": {"latitude": 28.705, "longitude": 77.103, "lastUpdated": at},
        },
    }
    assert posted.ddb_calls == EXPECTED[("POST", "/api/customer/device/location")]

    fetched = api.call("GET", f"{DEVICE}/location/{imei}")
    assert fetched.body == {
        "success": True,
        "message": "Customer location fetched successfully",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "mobileNumber": "9876543210",
            "location": {"latitude": 28.705, "longitude": 77.103, "lastUpdated": at},
        },
    }
    assert fetched.ddb_calls == EXPECTED[("GET", "/api/customer/device/location/{imei1}")]


def test_given_a_lock_response_with_no_pending_command_then_recorded_and_the_lock_state_unchanged(api, staff):
    customer = staff.customer()
    reply = api.call(
        "POST",
        f"{DEVICE}/lock-response",
        json_body={"imei1": customer["imei1"], "lockSuccess": True, "action": "LOCK_DEVICE"},
    )
    assert reply.body == {
        "success": True,
        "message": "Lock response received",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "currentLockStatus": False,
            "responseProcessed": False,
        },
    }
    assert reply.ddb_calls == ["UpdateItem", "UpdateItem", "GetItem", "GetItem", "PutItem"]  # the trail line only
    assert [(e["type"], e["lockSuccess"]) for e in staff.trail(customer)] == [("LOCK_RESPONSE", True)]


def test_given_low_limits_when_exceeded_then_429_rate_limit_exceeded_and_after_the_window_allowed_again(
    api, staff, monkeypatch
):
    from fleetgate.core import settings

    first, second = staff.customer(), staff.customer()
    monkeypatch.setenv("DEVICE_RATE_LIMIT_PER_IMEI", "2")
    monkeypatch.setenv("DEVICE_RATE_LIMIT_PER_IP", "3")
    monkeypatch.setenv("DEVICE_RATE_LIMIT_WINDOW", "2")
    settings.reset()
    message = "Too many requests, please try again later."
    refused = {"success": False, "message": message, "error": "RATE_LIMIT_EXCEEDED"}
    while int(time.time()) % 2:  # start at the beginning of a 2 s window
        time.sleep(0.05)

    # per IMEI: the third call naming the same phone is refused
    assert [api.call("GET", f"{DEVICE}/status/{first['imei1']}").status for _ in range(2)] == [200, 200]
    over = api.call("GET", f"{DEVICE}/status/{first['imei1']}")
    assert (over.status, over.body) == (429, refused)
    assert 1 <= int(over.headers["retry-after"]) <= 2
    # per address: the fourth call from 127.0.0.1 is refused whatever the IMEI
    by_ip = api.call("GET", f"{DEVICE}/status/{second['imei1']}")
    assert (by_ip.status, by_ip.body) == (429, refused)

    time.sleep(int(over.headers["retry-after"]))
    assert api.call("GET", f"{DEVICE}/status/{first['imei1']}").status == 200
