"""The staff routes under /api/admin/customers through real API Gateway v2 events: admins only, typed IMEIs
checked (Luhn, one customer each), cursor pages, instalments, lock and unlock, exact error bodies, DynamoDB
calls (tests/budgets/financing.py)."""

from __future__ import annotations

import pytest

from tests.budgets.financing import EXPECTED
from tests.financing_support import (
    ADMIN,
    bad_check_digit,
    customer_body,
    drain,
    new_imei,
)

pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")


def budget(method: str, path: str) -> list[str]:
    return EXPECTED[(method, path)]


def test_given_no_token_or_a_non_admin_then_401_and_403_in_the_family_envelope(api, staff):
    anonymous = api.call("GET", ADMIN)
    assert (anonymous.status, anonymous.body) == (
        401,
        {"success": False, "message": "Not authenticated", "error": "UNAUTHORIZED"},
    )
    user = api.register()
    for method, path in [("GET", ADMIN), ("POST", ADMIN), ("GET", f"{ADMIN}/{'a' * 24}/lock-status")]:
        reply = api.call(method, path, token=user["token"], json_body=customer_body() if method == "POST" else None)
        assert (reply.status, reply.body) == (
            403,
            {"success": False, "message": "Admin access required", "error": "FORBIDDEN"},
        ), path


def test_given_a_valid_body_when_creating_then_201_with_the_customer_and_one_transaction(staff):
    body = customer_body(imei2=new_imei(), due_in_days=(-3, 27))
    reply = staff.call("POST", ADMIN, body)

    assert reply.status == 201 and reply.ddb_calls == budget("POST", ADMIN)
    data = reply.body["data"]
    assert reply.body["success"] is True and reply.body["message"] == "Customer created successfully"
    assert {k: data[k] for k in ("fullName", "mobileNumber", "imei1", "imei2", "isLocked", "pendingEmiCount")} == {
        "fullName": "John Doe",
        "mobileNumber": "9876543210",
        "imei1": body["imei1"],
        "imei2": body["imei2"],
        "isLocked": False,
        "pendingEmiCount": 1,
    }
    assert [m["dueDate"] for m in data["emiDetails"]["emiMonths"]] == [
        f"{m['dueDate']}T00:00:00.000Z" for m in body["emiDetails"]["emiMonths"]
    ]
    assert data["hasFcmToken"] is False and data["pendingCommand"] is None
    assert staff.call("GET", f"{ADMIN}/{data['customerId']}").body["data"] == data


def test_given_a_typed_imei_with_a_wrong_check_digit_then_400_naming_the_field(staff):
    body = customer_body(imei=bad_check_digit(new_imei()), imei2=bad_check_digit(new_imei()))
    reply = staff.call("POST", ADMIN, body)
    assert (reply.status, reply.body) == (
        400,
        {
            "success": False,
            "message": "Validation failed",
            "error": "VALIDATION_ERROR",
            "details": [
                {"msg": f"{f.upper()} is not a valid IMEI (check digit)", "param": f, "path": f, "location": "body"}
                for f in ("imei1", "imei2")
            ],
        },
    )


def test_given_invalid_customer_bodies_then_each_failing_field_is_named(staff):
    body = customer_body(mobileNumber="98765", nickname="JD")
    body["emiDetails"]["emiMonths"][1]["dueDate"] = "next week"
    reply = staff.call("POST", ADMIN, body)
    assert reply.status == 400
    assert [(d["param"], d["msg"]) for d in reply.body["details"]] == [
        ("mobileNumber", "Mobile number must be exactly 10 digits"),
        ("emiDetails.emiMonths.1.dueDate", "dueDate must be a date (YYYY-MM-DD)"),
        ("nickname", "Unknown field"),
    ]


def test_given_an_imei_held_by_another_customer_then_409_on_create_and_on_update(staff):
    first, second = staff.customer(), staff.customer()
    reply = staff.call("POST", ADMIN, customer_body(imei=new_imei(), imei2=first["imei1"]))
    assert (reply.status, reply.body) == (
        409,
        {
            "success": False,
            "message": "IMEI is already registered to another customer",
            "error": "IMEI_ALREADY_REGISTERED",
            "details": [
                {
                    "msg": "IMEI is already registered to another customer",
                    "param": "imei2",
                    "path": "imei2",
                    "location": "body",
                }
            ],
        },
    )
    moved = staff.call("PUT", f"{ADMIN}/{second['customerId']}", {"imei1": first["imei1"]})
    assert moved.status == 409 and moved.body["error"] == "IMEI_ALREADY_REGISTERED"
    assert staff.call("GET", f"{ADMIN}/{second['customerId']}").body["data"]["imei1"] == second["imei1"]


def test_given_a_customer_when_changing_then_deleting_them_then_their_imeis_follow(api, staff):
    customer = staff.customer()
    cid, new = customer["customerId"], new_imei()

    renamed = staff.call("PUT", f"{ADMIN}/{cid}", {"fullName": "Jane Doe"})
    assert renamed.status == 200 and renamed.body["data"]["fullName"] == "Jane Doe"
    assert renamed.ddb_calls == budget("PUT", "/api/admin/customers/{customer_id}")
    moved = staff.call("PUT", f"{ADMIN}/{cid}", {"imei1": new})
    assert moved.status == 200 and moved.ddb_calls == ["GetItem", "TransactWriteItems"]
    assert api.call("GET", f"/api/customer/device/status/{customer['imei1']}").status == 404  # released
    assert api.call("GET", f"/api/customer/device/status/{new}").body["data"]["customerName"] == "Jane Doe"

    deleted = staff.call("DELETE", f"{ADMIN}/{cid}")
    assert deleted.status == 200 and deleted.body == {
        "success": True,
        "message": "Customer deleted successfully",
        "data": {"customerId": cid},
    }
    assert deleted.ddb_calls == budget("DELETE", "/api/admin/customers/{customer_id}")
    gone = staff.call("GET", f"{ADMIN}/{cid}")
    assert (gone.status, gone.body) == (
        404,
        {"success": False, "message": "Customer not found", "error": "CUSTOMER_NOT_FOUND"},
    )
    assert staff.call("POST", ADMIN, customer_body(imei=new)).status == 201  # the IMEI is free again


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"fullName": "x"}),
        ("DELETE", "", None),
        ("PUT", "/emis/m1", {"paid": True}),
        ("PUT", "/lock", {"isLocked": True}),
        ("GET", "/lock-status", None),
        ("GET", "/commands", None),
    ],
)
def test_given_a_malformed_or_unknown_customer_id_then_400_or_404(staff, method, suffix, body):
    malformed = staff.call(method, f"{ADMIN}/507f1f77bcf86cd79943901Z{suffix}", body)
    assert (malformed.status, malformed.body) == (
        400,
        {"success": False, "message": "Invalid customer ID format", "error": "VALIDATION_ERROR"},
    )
    unknown = staff.call(method, f"{ADMIN}/507f1f77bcf86cd799439011{suffix}", body)
    assert (unknown.status, unknown.body) == (
        404,
        {"success": False, "message": "Customer not found", "error": "CUSTOMER_NOT_FOUND"},
    )


def test_given_three_customers_when_listing_two_per_page_then_cursor_pages_and_a_forged_cursor_is_400(staff):
    made = [staff.customer()["customerId"] for _ in range(3)]
    first = staff.call("GET", ADMIN, query={"limit": 2})
    assert first.status == 200 and first.ddb_calls == budget("GET", ADMIN)
    cursor = first.body["data"]["nextCursor"]
    second = staff.call("GET", ADMIN, query={"limit": 2, "cursor": cursor})
    listed = [c["customerId"] for c in first.body["data"]["items"] + second.body["data"]["items"]]
    assert listed == made[::-1] and second.body["data"]["nextCursor"] is None

    forged = staff.call("GET", ADMIN, query={"limit": 2, "cursor": cursor[:-2] + "xx"})
    assert forged.status == 400 and forged.body["error"] == "VALIDATION_ERROR"
    assert forged.body["details"][0]["location"] == "query" and forged.body["details"][0]["param"] == "cursor"


def test_given_an_instalment_when_marked_paid_and_unpaid_then_the_counts_follow(staff):
    customer = staff.customer(due_in_days=(-5, 25))
    path = f"{ADMIN}/{customer['customerId']}/emis/m1"

    paid = staff.call("PUT", path, {"paid": True, "paidDate": "2026-11-20"})
    assert paid.status == 200 and paid.ddb_calls == budget("PUT", "/api/admin/customers/{customer_id}/emis/{month}")
    data = paid.body["data"]
    assert data["unlockCommandId"] is None  # the phone was never locked
    assert data["customer"]["emiDetails"]["emiMonths"][0] == {
        "month": "m1",
        "dueDate": customer["emiDetails"]["emiMonths"][0]["dueDate"],
        "amount": 1500.0,
        "paid": True,
        "paidDate": "2026-11-20T00:00:00.000Z",
    }
    assert data["customer"]["pendingEmiCount"] == 0

    unpaid = staff.call("PUT", path, {"paid": False})
    assert unpaid.body["data"]["customer"]["pendingEmiCount"] == 1
    assert unpaid.body["data"]["customer"]["emiDetails"]["emiMonths"][0]["paidDate"] is None
    missing = staff.call("PUT", f"{ADMIN}/{customer['customerId']}/emis/m9", {"paid": True})
    assert (missing.status, missing.body) == (
        404,
        {"success": False, "message": "No instalment for this month", "error": "EMI_NOT_FOUND"},
    )
    wrong = staff.call("PUT", path, {"paid": "soon"})
    assert wrong.status == 400 and wrong.body["details"][0]["msg"] == "paid must be a boolean"


def test_given_a_phone_without_an_fcm_token_when_locking_then_400_no_fcm_token_with_a_reason(staff):
    customer = staff.customer()
    reply = staff.call("PUT", f"{ADMIN}/{customer['customerId']}/lock", {"isLocked": True})
    assert (reply.status, reply.body) == (
        400,
        {
            "success": False,
            "message": "Cannot send a lock command: the customer's device has no FCM token",
            "error": "NO_FCM_TOKEN",
            "reason": "The device has not registered an FCM token yet (PUT /api/customer/device/fcm-token)",
        },
    )
    assert staff.trail(customer) == []


def test_given_a_registered_phone_when_locking_then_the_lock_flow_answer_and_isLocked_waits_for_the_phone(api, staff):
    customer = staff.customer()
    staff.register_phone(customer)

    reply = staff.call("PUT", f"{ADMIN}/{customer['customerId']}/lock", {"isLocked": True})

    assert reply.status == 200 and reply.ddb_calls == budget("PUT", "/api/admin/customers/{customer_id}/lock")
    command_id = reply.body["data"]["commandId"]
    assert reply.body == {
        "success": True,
        "message": "Lock command sent to device. Waiting for device confirmation.",
        "data": {
            "customerId": customer["customerId"],
            "customerName": "John Doe",
            "currentLockStatus": False,
            "requestedLockStatus": True,
            "lockStatusUpdated": False,
            "pendingDeviceConfirmation": True,
            "commandId": command_id,
        },
    }
    status = staff.call("GET", f"{ADMIN}/{customer['customerId']}/lock-status")
    assert status.ddb_calls == budget("GET", "/api/admin/customers/{customer_id}/lock-status")
    pending = status.body["data"]["pendingCommand"]
    assert status.body["data"] == {
        "customerId": customer["customerId"],
        "customerName": "John Doe",
        "mobileNumber": "9876543210",
        "isLocked": False,
        "hasFcmToken": True,
        "pendingCommand": {
            "commandId": command_id,
            "action": "LOCK_DEVICE",
            "requestedAt": pending["requestedAt"],
            "expiresAt": pending["expiresAt"],
            "attempts": 0,
            "lastAttemptAt": None,
            "lastError": None,
        },
        "lastUpdated": status.body["data"]["lastUpdated"],
    }
    trail = staff.call("GET", f"{ADMIN}/{customer['customerId']}/commands")
    assert trail.ddb_calls == budget("GET", "/api/admin/customers/{customer_id}/commands")
    assert trail.body["data"]["items"] == [
        {
            "type": "COMMAND",
            "at": pending["requestedAt"],
            "commandId": command_id,
            "action": "LOCK_DEVICE",
            "source": "staff",
        }
    ]


def test_given_a_locked_phone_when_the_last_overdue_instalment_is_paid_then_an_unlock_is_issued(api, staff, fcm):
    customer = staff.customer(due_in_days=(-8, -2, 30))
    staff.register_phone(customer)
    staff.lock(customer)
    drain(api)
    staff.answer(customer, "LOCK_DEVICE")
    base = f"{ADMIN}/{customer['customerId']}/emis"

    first = staff.call("PUT", f"{base}/m1", {"paid": True})
    assert first.body["data"]["unlockCommandId"] is None  # m2 is still overdue
    last = staff.call("PUT", f"{base}/m2", {"paid": True})

    unlock = last.body["data"]["unlockCommandId"]
    assert unlock and last.body["data"]["customer"]["pendingCommand"]["action"] == "UNLOCK_DEVICE"
    paying = budget("PUT", "/api/admin/customers/{customer_id}/emis/{month}")
    assert last.ddb_calls == [*paying, "UpdateItem", "PutItem"]
    drain(api)
    assert [m["data"]["action"] for m in fcm.messages()] == ["LOCK_DEVICE", "UNLOCK_DEVICE"]
    assert staff.trail(customer)[0] == {
        "type": "DELIVERY_ATTEMPT",
        "at": staff.trail(customer)[0]["at"],
        "commandId": unlock,
        "attempt": 1,
        "outcome": "SENT",
        "fcmMessageId": staff.trail(customer)[0]["fcmMessageId"],
    }


def test_given_the_command_queue_unreachable_when_locking_then_503_and_the_command_is_kept(staff):
    import boto3

    from tests.support import STACK

    customer = staff.customer()
    staff.register_phone(customer)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=STACK.physical_name("LockCommandsQueue"))["QueueUrl"])

    reply = staff.call("PUT", f"{ADMIN}/{customer['customerId']}/lock", {"isLocked": True})

    assert (reply.status, reply.body) == (
        503,
        {
            "success": False,
            "message": "The command is recorded but could not be queued for sending: try again in a moment",
            "error": "COMMAND_QUEUE_UNAVAILABLE",
        },
    )
    assert staff.lock_status(customer)["pendingCommand"]["action"] == "LOCK_DEVICE"
