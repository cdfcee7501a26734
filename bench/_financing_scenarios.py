"""bench/routes.py scenarios of the financing routes: the financed phone's own API (/api/customer/device, no JWT) and
the staff's customers admin (/api/admin/customers), kept apart from routes.py's own list.

``financing_scenarios(client, Scenario, Req)`` seeds, through the routes themselves, a page of customers and a few
financed phones (one with an overdue instalment, a registered FCM token, a location and a command trail; others
kept for the routes that change a phone's state) and returns a scenario per route; routes.py passes its own
classes in. What the measurement needs from the setup:

- The device routes count every request against two rate limits (per source address, per IMEI; 300 and 30 a
  minute by default). Every bench request comes from 127.0.0.1 and names a handful of IMEIs, so the setup raises
  both limits (``DEVICE_RATE_LIMIT_PER_IP``, ``DEVICE_RATE_LIMIT_PER_IMEI``): each request is still counted (its
  two UpdateItems), none is refused.
- Neither function talks to FCM: a lock or unlock is stored and queued on the lock-commands queue (moto's SQS in
  this process; the setup creates the stack's queues), whose consumer, LockCommandsFunction (no route), sends it.
  The SQS call is part of the measured request; the queue is never drained (nothing reads it during the run).
- A route that changes a phone's state gets that state back before each request: the lock-response answers a
  command the staff issued just before it; paying the last overdue instalment of a locked phone first has it
  unpaid, locked and acknowledged again.

Two variants take the other path that tests/budgets/financing.py describes in its comments: an answer to no
pending command (the trail's line only: no UpdateItem) and the payment that unlocks (GetItem, UpdateItem, then
the unlock command's UpdateItem and PutItem).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from _benchlib import REGION, register_user

from tests.financing_support import customer_body, new_imei

D, A = "/api/customer/device", "/api/admin/customers"
NO_LIMIT = "1000000"  # requests per window: above anything the bench sends


def _fcm_token() -> str:
    return f"bench-fcm-{uuid.uuid4().hex}"


class _Staff:
    """Drives the staff routes and the phone's routes (untimed setup) through the bench's client."""

    def __init__(self, client: Any, token: str):
        self.client, self.token = client, token

    def customer(self, **kwargs: Any) -> dict[str, Any]:
        return self.client.ok("POST", A, 201, token=self.token, json_body=customer_body(new_imei(), **kwargs))["data"]

    def register(self, customer: dict[str, Any], **extra: Any) -> None:
        body = {"fcmToken": _fcm_token(), "imei1": customer["imei1"], **extra}
        self.client.ok("PUT", f"{D}/fcm-token", 200, json_body=body)

    def lock(self, customer: dict[str, Any], locked: bool) -> None:
        path = f"{A}/{customer['customerId']}/lock"
        self.client.ok("PUT", path, 200, token=self.token, json_body={"isLocked": locked})

    def answer(self, customer: dict[str, Any], locked: bool) -> None:
        action = "LOCK_DEVICE" if locked else "UNLOCK_DEVICE"
        body = {"imei1": customer["imei1"], "lockSuccess": True, "action": action}
        self.client.ok("POST", f"{D}/lock-response", 200, json_body=body)

    def pay(self, customer: dict[str, Any], month: str, paid: bool) -> None:
        path = f"{A}/{customer['customerId']}/emis/{month}"
        self.client.ok("PUT", path, 200, token=self.token, json_body={"paid": paid})

    def phone(self, **kwargs: Any) -> dict[str, Any]:
        """A customer whose phone has registered a token."""
        customer = self.customer(**kwargs)
        self.register(customer)
        return customer


def seed_financing(client: Any) -> dict[str, Any]:
    import boto3

    from fleetgate.financing import settings
    from localcloud.template import stack

    os.environ.update({"DEVICE_RATE_LIMIT_PER_IP": NO_LIMIT, "DEVICE_RATE_LIMIT_PER_IMEI": NO_LIMIT})
    settings.device_limits.cache_clear()  # only these settings: the other routes' warm caches stay as they are
    stack().create_queues(boto3.client("sqs", region_name=REGION))  # the lock-commands queue
    staff = _Staff(client, register_user(client, admin=True)["token"])
    for _ in range(20):  # a full page for the list
        staff.customer()
    # the phone the read routes see: an overdue instalment, a token, a location, a trail of three locks and unlocks
    phone = staff.customer(due_in_days=(-2, 28, 58))
    staff.register(phone, latitude=28.7041, longitude=77.1025)
    for _ in range(3):
        for locked in (True, False):
            staff.lock(phone, locked)
            staff.answer(phone, locked)
    waiting = staff.phone()
    staff.lock(waiting, True)  # never answered: a new token re-sends it
    unlocker = staff.phone(due_in_days=(-2, 28))
    return {
        "staff": staff,
        "phone": phone,
        "waiting": waiting,
        "answering": staff.phone(),
        "unanswered": staff.phone(),
        "locker": staff.phone(),
        "edited": staff.customer(),
        "payer": staff.customer(),
        "unlocker": unlocker,
    }


def financing_scenarios(client: Any, Scenario: Any, Req: Any) -> list[Any]:
    f = seed_financing(client)
    staff: _Staff = f["staff"]
    ta, phone = staff.token, f["phone"]
    imei, cid = phone["imei1"], phone["customerId"]

    def token_update(customer: dict[str, Any], **extra: Any) -> Any:
        """A new token each time (a token refresh), the same IMEI."""
        return lambda i: Req(
            f"{D}/fcm-token", json_body={"fcmToken": _fcm_token(), "imei1": customer["imei1"], **extra}
        )

    def acknowledging(i: int) -> Any:
        """The phone answers the command the staff issued just before (lock and unlock in turn)."""
        locked = i % 2 == 0
        staff.lock(f["answering"], locked)
        action = "LOCK_DEVICE" if locked else "UNLOCK_DEVICE"
        body = {"imei1": f["answering"]["imei1"], "lockSuccess": True, "action": action}
        return Req(f"{D}/lock-response", json_body=body)

    def settling(i: int) -> Any:
        """The last overdue instalment of a locked phone is paid: the unlock is issued. Before it, the instalment is
        unpaid again and the phone locked (a lock command, acknowledged)."""
        unlocker = f["unlocker"]
        staff.pay(unlocker, "m1", False)
        staff.lock(unlocker, True)
        staff.answer(unlocker, True)
        return Req(f"{A}/{unlocker['customerId']}/emis/m1", ta, json_body={"paid": True})

    def doomed(_: int) -> Any:
        return Req(f"{A}/{staff.customer()['customerId']}", ta)

    def undo_create(_: Any, resp: Any) -> None:
        client.ok("DELETE", f"{A}/{resp.json()['data']['customerId']}", 200, token=ta)

    location = {"imei1": imei, "latitude": 28.7041, "longitude": 77.1025}
    return [
        Scenario("PUT", f"{D}/fcm-token", token_update(phone)),
        Scenario(
            "PUT",
            f"{D}/fcm-token",
            token_update(phone, devicePin="482916", latitude=28.7041, longitude=77.1025),
            variant="first install: PIN (argon2id) and location",
        ),
        Scenario("PUT", f"{D}/fcm-token", token_update(f["waiting"]), variant="pending command: re-sent (SQS)"),
        Scenario("POST", f"{D}/lock-response", acknowledging),
        Scenario(
            "POST",
            f"{D}/lock-response",
            lambda i: Req(
                f"{D}/lock-response",
                json_body={"imei1": f["unanswered"]["imei1"], "lockSuccess": True, "action": "LOCK_DEVICE"},
            ),
            variant="no pending command",
        ),
        Scenario("GET", f"{D}/status/{{imei1}}", lambda i: Req(f"{D}/status/{imei}")),
        Scenario("GET", f"{D}/location/{{imei1}}", lambda i: Req(f"{D}/location/{imei}")),
        Scenario(
            "POST",
            f"{D}/location",
            lambda i: Req(f"{D}/location", json_body={**location, "latitude": 28.7 + i % 7 / 1000}),
        ),
        Scenario(
            "POST",
            A,
            lambda i: Req(A, ta, json_body=customer_body(new_imei(), due_in_days=(30, 60, 90))),
            201,
            after=undo_create,
        ),
        Scenario("GET", A, lambda i: Req(f"{A}?limit=20", ta)),
        Scenario("GET", f"{A}/{{customer_id}}", lambda i: Req(f"{A}/{cid}", ta)),
        Scenario(
            "PUT",
            f"{A}/{{customer_id}}",
            lambda i: Req(f"{A}/{f['edited']['customerId']}", ta, json_body={"fullName": f"Jane Doe {i % 2}"}),
        ),
        Scenario("DELETE", f"{A}/{{customer_id}}", doomed),
        Scenario(
            "PUT",
            f"{A}/{{customer_id}}/emis/{{month}}",
            lambda i: Req(f"{A}/{f['payer']['customerId']}/emis/m1", ta, json_body={"paid": i % 2 == 0}),
        ),
        Scenario("PUT", f"{A}/{{customer_id}}/emis/{{month}}", settling, variant="unlocks a locked phone (SQS)"),
        Scenario(
            "PUT",
            f"{A}/{{customer_id}}/lock",
            lambda i: Req(f"{A}/{f['locker']['customerId']}/lock", ta, json_body={"isLocked": i % 2 == 0}),
        ),
        Scenario("GET", f"{A}/{{customer_id}}/lock-status", lambda i: Req(f"{A}/{cid}/lock-status", ta)),
        Scenario("GET", f"{A}/{{customer_id}}/commands", lambda i: Req(f"{A}/{cid}/commands", ta)),
    ]
