"""The financing sample events (events/*.json: ``make invoke``) drive their functions as Lambda would, against a
customer holding the samples' IMEI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.financing_support import customer_body

pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")

EVENTS = Path(__file__).resolve().parent.parent / "events"
IMEI = "490154203237518"  # the samples' phone


def load(name: str, token: str = "") -> dict:
    return json.loads((EVENTS / name).read_text().replace("{{token}}", token))


def test_given_the_admin_samples_with_an_admin_token_then_a_customer_is_created_and_listed(api, staff):
    created = api.functions.invoke("CustomersAdminFunction", load("admin-customers-create.json", staff.token))
    listed = api.functions.invoke("CustomersAdminFunction", load("admin-customers-list.json", staff.token))

    assert created["statusCode"] == 201, created
    assert listed["statusCode"] == 200
    assert [c["imei1"] for c in json.loads(listed["body"])["data"]["items"]] == [IMEI]


def test_given_the_samples_phone_when_invoking_each_device_sample_then_the_contracts_answers(api, staff):
    staff.call("POST", "/api/admin/customers", customer_body(IMEI))
    answers = {}
    for name in ("fcm-token", "status", "location-update", "lock-response"):
        event = load(f"customer-device-{name}.json")
        result = api.functions.invoke("CustomerDeviceFunction", event)
        answers[name] = (result["statusCode"], json.loads(result["body"])["message"])
    assert answers == {
        "fcm-token": (200, "FCM token registered successfully"),
        "status": (200, "Customer status fetched successfully"),
        "location-update": (200, "Location updated successfully"),
        "lock-response": (200, "Lock response received"),
    }


def test_given_the_sqs_sample_for_a_real_command_then_fcm_receives_it(api, staff, fcm):
    customer = staff.customer(IMEI)
    staff.register_phone(customer)
    command = staff.lock(customer)
    event = load("lock-commands-sqs.json")
    body = json.loads(event["Records"][0]["body"])
    body.update(customerId=customer["customerId"], commandId=command["commandId"])
    event["Records"][0]["body"] = json.dumps(body)

    result = api.functions.invoke("LockCommandsFunction", event)

    assert result == {"batchItemFailures": []}
    assert [m["data"]["action"] for m in fcm.messages()] == ["LOCK_DEVICE"]


def test_given_the_sqs_sample_as_it_is_then_its_unknown_command_is_dropped_without_failing(api, fcm):
    assert api.functions.invoke("LockCommandsFunction", load("lock-commands-sqs.json")) == {"batchItemFailures": []}
    assert fcm.messages() == []
