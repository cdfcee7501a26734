"""Overdue enforcement: EmiEnforcementFunction on an EventBridge scheduled event finds overdue customers on the
sparse next-due index (never a scan), locks those past the grace period, reminds the others once a day, and a
second run issues nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.financing_support import ADMIN, drain, scheduled_event, today

pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")

EVENT = Path(__file__).resolve().parent.parent / "events" / "emi-enforcement-schedule.json"


@pytest.fixture(autouse=True)
def slow_resends(fcm, monkeypatch):
    """Re-sends of unacknowledged locks 30 s apart: within a test, every FCM message is a first send."""
    from fleetgate.core import settings

    monkeypatch.setenv("LOCK_COMMAND_BACKOFF_SECONDS", "30")
    settings.reset()


def enforce(api) -> dict:
    return api.functions.invoke("EmiEnforcementFunction", scheduled_event())


def test_given_overdue_customers_when_enforcement_runs_then_lock_past_grace_remind_within_and_twice_is_idempotent(
    api, staff, fcm
):
    late = staff.customer(due_in_days=(-9, 21))  # 9 days late: past the 5-day grace period
    recent = staff.customer(due_in_days=(-2, 28))  # 2 days late: reminded
    paid = staff.customer(due_in_days=(-30, 30))
    staff.call("PUT", f"{ADMIN}/{paid['customerId']}/emis/m1", {"paid": True})
    future = staff.customer(due_in_days=(10,))
    tokens = {c["customerId"]: staff.register_phone(c) for c in (late, recent, paid, future)}

    first = enforce(api)
    drain(api, 1)

    assert first == {"overdue": 2, "locked": 1, "reminded": 1, "already_handled": 0, "complete": True}
    by_token = {m["token"]: m for m in fcm.messages()}
    assert set(by_token) == {tokens[late["customerId"]], tokens[recent["customerId"]]}
    lock = by_token[tokens[late["customerId"]]]
    assert (lock["data"]["type"], lock["data"]["action"]) == ("DEVICE_LOCK_STATUS", "LOCK_DEVICE")
    reminder = by_token[tokens[recent["customerId"]]]
    assert reminder["data"] == {
        "type": "EMI_REMINDER",
        "timestamp": reminder["data"]["timestamp"],
        "dueDate": recent["emiDetails"]["emiMonths"][0]["dueDate"],
        "amount": "1500",
        "pendingEmiCount": "1",
    }
    assert reminder["notification"]["title"] == "EMI Payment Reminder"
    command = staff.lock_status(late)["pendingCommand"]
    assert command["action"] == "LOCK_DEVICE"
    assert staff.trail(late)[-1]["source"] == "enforcement"
    assert staff.lock_status(recent)["pendingCommand"] is None

    sent = len(fcm.messages())
    second = enforce(api)
    drain(api, 0.5)

    assert second == {"overdue": 2, "locked": 0, "reminded": 0, "already_handled": 2, "complete": True}
    assert staff.lock_status(late)["pendingCommand"]["commandId"] == command["commandId"]
    assert len(fcm.messages()) == sent


def test_given_a_locked_or_locking_phone_then_no_new_lock_only_a_reminder(api, staff, fcm):
    customer = staff.customer(due_in_days=(-12,))
    staff.register_phone(customer)
    command = staff.lock(customer)  # staff locked it already today

    result = enforce(api)
    drain(api, 0.5)

    assert (result["locked"], result["reminded"]) == (0, 1)
    assert staff.lock_status(customer)["pendingCommand"]["commandId"] == command["commandId"]
    assert sorted(m["data"]["type"] for m in fcm.messages()) == ["DEVICE_LOCK_STATUS", "EMI_REMINDER"]


def test_given_an_overdue_phone_without_a_token_then_the_lock_waits_and_goes_out_when_it_registers(api, staff, fcm):
    customer = staff.customer(due_in_days=(-6,))

    assert enforce(api)["locked"] == 1
    drain(api, 0.5)
    assert fcm.messages() == []

    staff.register_phone(customer)
    drain(api, 0.5)
    assert [m["data"]["action"] for m in fcm.messages()] == ["LOCK_DEVICE"]


def test_given_the_enforcement_run_then_it_reads_the_sparse_index_and_never_the_whole_table(api, staff, fcm):
    from tests.support import RECORDER

    for _ in range(3):
        staff.customer(due_in_days=(40,))  # nothing due: not in the index's range
    overdue = staff.customer(due_in_days=(-1,))
    RECORDER.calls.clear()

    result = enforce(api)

    assert result["reminded"] == 1
    # one Query per index shard, the overdue customers in one BatchGetItem, the day's claim (no Scan: conftest)
    assert RECORDER.calls == ["Query"] * 4 + ["BatchGetItem", "UpdateItem"]
    assert overdue["pendingEmiCount"] == 1


def test_given_the_sample_event_then_it_is_a_scheduled_event_the_function_handles(api, staff):
    event = json.loads(EVENT.read_text())
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
    assert api.functions.invoke("EmiEnforcementFunction", event)["complete"] is True
    assert today().isoformat() > event["time"][:10]  # the sample's time is in the past: it judges by that day
