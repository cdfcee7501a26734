"""Helpers of the financing tests: customers with valid IMEIs, a fake FCM, the lock-command sender on its real
(moto) queue, and a check that no PIN or FCM token a test sent ever reaches the logs.

Its fixtures are registered for every test module (tests/conftest.py's ``pytest_plugins``); a financing test
module applies the log check to all its tests with ``pytestmark = pytest.mark.usefixtures("no_secrets_in_logs")``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.fakes import FakeFcm
from tests.support import STACK

DEVICE = "/api/customer/device"
ADMIN = "/api/admin/customers"

SENT_SECRETS: set[str] = set()  # PINs and FCM tokens the current test sent


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return str((10 - total % 10) % 10)


def new_imei() -> str:
    """A random 15-digit IMEI with a valid check digit."""
    body = "35" + "".join(random.choice("0123456789") for _ in range(12))
    return body + luhn_digit(body)


def bad_check_digit(imei: str) -> str:
    return imei[:-1] + str((int(imei[-1]) + 1) % 10)


def secret_token() -> str:
    token = f"fcm-{uuid.uuid4().hex}:{uuid.uuid4().hex}"
    SENT_SECRETS.add(token)
    return token


def secret_pin() -> str:
    pin = str(random.randint(100000, 999999))
    SENT_SECRETS.add(pin)
    return pin


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def customer_body(imei: str | None = None, *, due_in_days: tuple[int, ...] = (30, 60), **extra: Any) -> dict:
    return {
        "fullName": "John Doe",
        "mobileNumber": "9876543210",
        "imei1": imei or new_imei(),
        "emiDetails": {
            "emiMonths": [
                {"month": f"m{i + 1}", "dueDate": days_from_today(d), "amount": 1500} for i, d in enumerate(due_in_days)
            ]
        },
        **extra,
    }


class Staff:
    """An admin driving the staff routes and the phone's routes through real API Gateway v2 events."""

    def __init__(self, api: Any):
        self.api = api
        self.token = api.register(admin=True)["token"]

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.api.call(method, path, token=self.token, json_body=body, **kwargs)

    def customer(self, imei: str | None = None, **kwargs: Any) -> dict:
        reply = self.call("POST", ADMIN, customer_body(imei, **kwargs))
        assert reply.status == 201, reply.body
        return reply.body["data"]

    def register_phone(self, customer: dict, token: str | None = None, **extra: Any) -> Any:
        body = {"fcmToken": token or secret_token(), "imei1": customer["imei1"], **extra}
        reply = self.api.call("PUT", f"{DEVICE}/fcm-token", json_body=body)
        assert reply.status == 200, reply.body
        return body["fcmToken"]

    def lock(self, customer: dict, locked: bool = True) -> dict:
        reply = self.call("PUT", f"{ADMIN}/{customer['customerId']}/lock", {"isLocked": locked})
        assert reply.status == 200, reply.body
        return reply.body["data"]

    def answer(self, customer: dict, action: str, success: bool = True, **extra: Any) -> dict:
        body = {"imei1": customer["imei1"], "lockSuccess": success, "action": action, **extra}
        reply = self.api.call("POST", f"{DEVICE}/lock-response", json_body=body)
        assert reply.status == 200, reply.body
        return reply.body["data"]

    def lock_status(self, customer: dict) -> dict:
        reply = self.call("GET", f"{ADMIN}/{customer['customerId']}/lock-status")
        assert reply.status == 200, reply.body
        return reply.body["data"]

    def trail(self, customer: dict) -> list[dict]:
        reply = self.call("GET", f"{ADMIN}/{customer['customerId']}/commands")
        assert reply.status == 200, reply.body
        return reply.body["data"]["items"]


@pytest.fixture
def fcm(api, monkeypatch):
    """A fake FCM on loopback; the sender points at it, re-sends back off from 1 s (not 30)."""
    from fleetgate.core import settings

    fake = FakeFcm().start()
    monkeypatch.setenv("FCM_ENDPOINT", fake.url)
    monkeypatch.setenv("FCM_PROJECT_ID", "fleetgate-test")
    monkeypatch.setenv("LOCK_COMMAND_BACKOFF_SECONDS", "1")
    monkeypatch.setenv("DEVICE_RATE_LIMIT_PER_IMEI", "1000")
    settings.reset()
    yield fake
    fake.stop()


@pytest.fixture
def staff(api, fcm) -> Staff:
    return Staff(api)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def no_secrets_in_logs(caplog):
    """No PIN or FCM token the test sent appears in any log line: the functions' Powertools logger (formatted as
    on Lambda) and every library logger at INFO. (Not capfd: a logger first built under it would keep writing
    to its closed stream in later tests.)"""
    from fleetgate.core.observability import logger

    SENT_SECRETS.clear()
    lines = _Lines()
    lines.setFormatter(logger.registered_formatter)
    logger.addHandler(lines)
    caplog.set_level(logging.INFO)
    try:
        yield
    finally:
        logger._logger.removeHandler(lines)
    text = "\n".join([*lines.lines, caplog.text])
    assert lines.lines, "no log line was captured: this check would prove nothing"
    leaked = sorted(s for s in SENT_SECRETS if s in text)
    assert not leaked, f"logged: {leaked}"


# ------------------------------------------------------------------ the sender on its real queue
def sender(api: Any) -> Any:
    """The local cloud's SQS event source mapping of LockCommandsFunction, on the test's moto queue."""
    import boto3

    from localcloud.sqs import SqsPoller, event_sources

    sqs = boto3.client("sqs", region_name="us-east-1")
    source = next(s for s in event_sources(STACK, sqs) if s.function == "LockCommandsFunction")
    return SqsPoller(source, sqs, api.functions.invoke, wait_seconds=0)


def run_sender(api: Any, *, until: Callable[[], bool], timeout: float = 15.0) -> None:
    """Feed the lock-commands queue to its function until ``until()``; fails after ``timeout`` seconds."""
    feed = sender(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        feed.poll_once()
        if until():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout} s")


def drain(api: Any, seconds: float = 0.5) -> None:
    """Deliver what is due now and for ``seconds`` more (delayed re-sends later than that stay queued)."""
    feed = sender(api)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not feed.poll_once():
            time.sleep(0.05)


def scheduled_event(at: datetime | None = None) -> dict:
    when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": when,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/fleetgate-EmiEnforcement"],
        "detail": {},
    }


def today() -> date:
    return datetime.now(UTC).date()
