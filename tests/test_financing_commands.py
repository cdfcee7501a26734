"""Lock commands on their real (moto) SQS queue, sent by LockCommandsFunction through firebase-admin to a fake
FCM on 127.0.0.1: the contract's message as the SDK sends it, retries with backoff, FCM's refusals, supersession,
acknowledgement, a new token, expiry, and partial batch failures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.fakes import fcm_error
from tests.financing_support import ADMIN, drain, run_sender, secret_token, sender
from tests.support import STACK

pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")

UNAVAILABLE = fcm_error(503, "UNAVAILABLE", "UNAVAILABLE")
UNREGISTERED = fcm_error(404, "NOT_FOUND", "UNREGISTERED")


def sends(fcm) -> list:
    """Every send request the fake FCM received, accepted or refused."""
    return fcm.calls("POST", "/v1/projects/")


def test_given_a_lock_then_fcm_receives_exactly_the_contracts_message_as_firebase_admin_sends_it(api, staff, fcm):
    customer = staff.customer()
    token = staff.register_phone(customer)
    command = staff.lock(customer)

    run_sender(api, until=lambda: len(fcm.messages()) == 1)

    [request] = fcm.calls("POST")
    assert request.path == "/v1/projects/fleetgate-test/messages:send"
    assert request.headers["authorization"] == "Bearer fleetgate-local-fcm"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-firebase-client"].startswith("fire-admin-python/7.7")
    status = staff.lock_status(customer)
    expires = datetime.fromisoformat(status["pendingCommand"]["expiresAt"].replace("Z", "+00:00"))
    sent = request.json()
    ttl = int(sent["message"]["android"].pop("ttl").rstrip("s"))  # the command's time left, in FCM's "<n>s"
    assert 24 * 3600 - 60 <= ttl <= 24 * 3600 and expires - datetime.now(UTC) <= timedelta(hours=24)
    assert sent == {
        "message": {
            "token": token,
            "notification": {
                "title": "Device Lock Alert",
                "body": "Your device has been locked due to pending EMI payments.",
            },
            "data": {
                "action": "LOCK_DEVICE",
                "timestamp": status["pendingCommand"]["requestedAt"],
                "type": "DEVICE_LOCK_STATUS",
            },
            "android": {"priority": "high", "collapse_key": f"lock-{customer['customerId']}"},
        }
    }
    assert status["isLocked"] is False and status["pendingCommand"]["attempts"] == 1  # sent, not confirmed
    assert [e["type"] for e in staff.trail(customer)] == ["DELIVERY_ATTEMPT", "COMMAND"]
    assert staff.trail(customer)[0]["commandId"] == command["commandId"]


def test_given_fcm_unavailable_twice_then_the_command_is_delivered_once_after_backing_off(api, staff, fcm):
    customer = staff.customer()
    staff.register_phone(customer)
    fcm.fail(UNAVAILABLE, method="POST", times=2)
    staff.lock(customer)
    started = time.monotonic()

    run_sender(api, until=lambda: len(sends(fcm)) == 3)

    assert time.monotonic() - started >= 3  # 1 s, then 2 s between the sends
    attempts = [(e["attempt"], e["outcome"], e.get("fcmError")) for e in list(reversed(staff.trail(customer)))[1:]]
    assert attempts == [(1, "RETRY", "UNAVAILABLE"), (2, "RETRY", "UNAVAILABLE"), (3, "SENT", None)]
    staff.answer(customer, "LOCK_DEVICE")
    drain(api, 5)  # the re-send queued after the third send finds the command acknowledged
    assert len(sends(fcm)) == 3
    assert staff.lock_status(customer)["isLocked"] is True


def test_given_an_unregistered_token_then_the_command_fails_the_token_is_dropped_and_the_phone_must_register(
    api, staff, fcm
):
    customer = staff.customer()
    staff.register_phone(customer)
    fcm.fail(UNREGISTERED, method="POST")
    command = staff.lock(customer)

    run_sender(api, until=lambda: len(sends(fcm)) == 1)
    drain(api, 2)

    assert len(sends(fcm)) == 1  # not retried
    status = staff.lock_status(customer)
    assert status["hasFcmToken"] is False and status["pendingCommand"] is None and status["isLocked"] is False
    trail = staff.trail(customer)
    assert [(e["type"], e.get("outcome"), e.get("status"), e.get("fcmError")) for e in trail] == [
        ("COMMAND_ENDED", None, "FAILED", None),
        ("DELIVERY_ATTEMPT", "FAILED", None, "UNREGISTERED"),
        ("COMMAND", None, None, None),
    ]
    assert trail[0]["commandId"] == command["commandId"] and "register again" in trail[0]["reason"]
    again = staff.call("PUT", f"{ADMIN}/{customer['customerId']}/lock", {"isLocked": True})
    assert again.status == 400 and again.body["error"] == "NO_FCM_TOKEN"
    assert again.body["reason"] == "FCM refused the device's last token; the app must register again"
    assert staff.call("GET", f"{ADMIN}/{customer['customerId']}").body["data"]["needsReregistration"] is True


def test_given_a_lock_then_an_unlock_before_sending_then_only_the_newer_command_is_sent(api, staff, fcm):
    customer = staff.customer()
    staff.register_phone(customer)
    first = staff.lock(customer)
    second = staff.lock(customer, locked=False)

    drain(api, 1)

    assert [m["data"]["action"] for m in fcm.messages()] == ["UNLOCK_DEVICE"]
    command = [e for e in staff.trail(customer) if e["type"] == "COMMAND"][0]
    assert (command["commandId"], command["supersedes"]) == (second["commandId"], first["commandId"])


def test_given_a_failed_lock_response_then_it_is_recorded_isLocked_unchanged_and_the_command_sent_again(
    api, staff, fcm
):
    customer = staff.customer()
    staff.register_phone(customer)
    staff.lock(customer)
    run_sender(api, until=lambda: len(fcm.messages()) == 1)

    answer = staff.answer(customer, "LOCK_DEVICE", success=False, errorMessage="Failed to lock device")

    assert answer == {
        "customerId": customer["customerId"],
        "customerName": "John Doe",
        "currentLockStatus": False,
        "responseProcessed": True,
    }
    response = staff.trail(customer)[0]
    assert (response["type"], response["lockSuccess"], response["errorMessage"]) == (
        "LOCK_RESPONSE",
        False,
        "Failed to lock device",
    )
    run_sender(api, until=lambda: len(fcm.messages()) == 2)
    assert staff.lock_status(customer)["isLocked"] is False
    assert staff.answer(customer, "LOCK_DEVICE")["currentLockStatus"] is True
    assert staff.lock_status(customer)["isLocked"] is True


def test_given_an_unacknowledged_command_then_it_is_sent_again_with_a_growing_delay_until_the_phone_answers(
    api, staff, fcm
):
    customer = staff.customer()
    staff.register_phone(customer)
    staff.lock(customer)

    run_sender(api, until=lambda: len(fcm.messages()) == 3, timeout=20)
    times = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in reversed(staff.trail(customer)[:3])]
    assert (times[1] - times[0]).total_seconds() >= 1 and (times[2] - times[1]).total_seconds() >= 2
    staff.answer(customer, "LOCK_DEVICE")
    drain(api, 5)
    assert len(fcm.messages()) == 3


def test_given_a_pending_command_when_the_phone_registers_a_new_token_then_it_is_sent_there_at_once(api, staff, fcm):
    customer = staff.customer()
    old = staff.register_phone(customer)
    fcm.fail(UNAVAILABLE, method="POST")  # the first send fails: the next is a second away
    staff.lock(customer)
    run_sender(api, until=lambda: len(sends(fcm)) == 1)

    new = staff.register_phone(customer, token=secret_token())
    drain(api, 0.5)  # less than the backoff: only the immediate send can arrive

    assert [r.json()["message"]["token"] for r in sends(fcm)] == [old, new]
    drain(api, 2.5)  # the older chain's re-send (due after 1 s) is dropped at its claim; the new chain goes on
    assert [r.json()["message"]["token"] for r in sends(fcm)] == [old, new, new]
    attempts = [e["attempt"] for e in reversed(staff.trail(customer)) if e["type"] == "DELIVERY_ATTEMPT"]
    assert attempts == [1, 2, 3]


def test_given_a_sender_that_stopped_after_claiming_a_send_then_the_redelivered_message_resumes_the_command(
    api, staff, fcm
):
    from fleetgate.financing import repository

    customer = staff.customer()
    staff.register_phone(customer)
    command = staff.lock(customer)
    # An earlier receive of the first send's message claimed send number 1 and then died (no next send queued,
    # nothing pushed); its message becomes visible again.
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=STACK.physical_name("LockCommandsQueue"))["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"]
    assert repository.claim_attempt(customer["customerId"], command["commandId"], 1, "2026-11-29T00:00:00.000Z")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    run_sender(api, until=lambda: len(fcm.messages()) == 1)  # the next send, a backoff later, reaches the phone

    attempts = [e["attempt"] for e in reversed(staff.trail(customer)) if e["type"] == "DELIVERY_ATTEMPT"]
    assert attempts == [2]


def test_given_an_expired_command_when_its_message_arrives_then_it_ends_expired_without_sending(api, staff, fcm):
    from fleetgate.financing import delivery

    customer = staff.customer()
    staff.register_phone(customer)
    command = staff.lock(customer)
    ids = {"customerId": customer["customerId"], "commandId": command["commandId"]}
    body = json.dumps({"v": 1, "kind": "command", **ids, "attempt": 1})

    assert delivery.deliver(body, datetime.now(UTC) + timedelta(hours=25)) == "expired"

    assert sends(fcm) == []
    assert staff.lock_status(customer)["pendingCommand"] is None
    assert staff.trail(customer)[0]["status"] == "EXPIRED"


def test_given_a_batch_with_a_malformed_message_then_only_it_is_reported_failed(api, staff, fcm):
    customer = staff.customer()
    staff.register_phone(customer)
    staff.lock(customer)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=STACK.physical_name("LockCommandsQueue"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])[
        "Messages"
    ]  # as Lambda's event source mapping receives them (attributes included)
    assert len(messages) == 2
    from localcloud.sqs import sqs_event

    result = api.functions.invoke("LockCommandsFunction", sqs_event(messages, "arn:aws:sqs:q", "us-east-1"))

    bad = next(m["MessageId"] for m in messages if m["Body"] == "{not json")
    assert result == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert [m["data"]["action"] for m in fcm.messages()] == ["LOCK_DEVICE"]
    assert sender(api).source.report_failures is True
