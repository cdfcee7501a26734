"""Helpers of the ingest and flow engine tests: ChirpStack v4 / v3 and Helium bodies, a sink that fails on
command, and running the flow worker on the steps queue (a real moto SQS queue, the local cloud's poller)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support import Sink

STEPS_QUEUE = "FlowStepsQueue"
DEAD_LETTER_QUEUE = "FlowStepsDeadLetterQueue"


# ------------------------------------------------------------------ bodies
_STAMPS: dict[str, str] = {}


def _stamp(dedup: str | None) -> str:
    """When ChirpStack stamped the event (its ``time``: the gateways' reception, about now): the same for every
    copy of one deduplicationId, as ChirpStack sends it."""
    now = datetime.now(UTC).isoformat()
    return now if dedup is None else _STAMPS.setdefault(dedup, now)


def v4_up(dev_eui: str, *, temperature: float = 21.5, f_cnt: int = 42, dedup: str | None = None) -> dict[str, Any]:
    """A ChirpStack v4 HTTP integration ``up`` event, as its JSON marshaler writes it (two gateways)."""
    return {
        "deduplicationId": dedup or str(uuid.uuid4()),
        "time": _stamp(dedup),
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "ChirpStack",
            "applicationId": "d2a8f7e1-54b3-4a27-8b46-0f3c7e1b6a90",
            "applicationName": "sensors",
            "deviceProfileId": "cc7b10d8-4a0f-4a8c-9f29-2d1f0f0b4a11",
            "deviceProfileName": "EM300-TH",
            "deviceName": "cold-room-1",
            "devEui": dev_eui,
            "deviceClassEnabled": "CLASS_A",
            "tags": {"site": "warehouse"},
        },
        "devAddr": "01fa2b3c",
        "adr": True,
        "dr": 5,
        "fCnt": f_cnt,
        "fPort": 85,
        "confirmed": False,
        "data": base64.b64encode(b"\x01\x75\x5c\x03\x67\x34\x01").decode(),
        "object": {"temperature": temperature, "humidity": 48, "battery": 92},
        "rxInfo": [
            {
                "gatewayId": "0016c001f153a14c",
                "uplinkId": 40312,
                "rssi": -97,
                "snr": 7.5,
                "channel": 2,
                "rfChain": 1,
                "location": {"latitude": 52.37, "longitude": 4.89},
                "context": "EFwMtA==",
                "crcStatus": "CRC_OK",
            },
            {
                "gatewayId": "0016c001f153b22d",
                "uplinkId": 18872,
                "rssi": -84,
                "snr": 9.25,
                "channel": 2,
                "rfChain": 1,
                "location": {},
                "context": "Q3Pa9w==",
                "crcStatus": "CRC_OK",
            },
        ],
        "txInfo": {
            "frequency": 868300000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
        },
    }


def v3_up(dev_eui: str, *, temperature: float = 19.0, f_cnt: int = 7) -> dict[str, Any]:
    """A ChirpStack v3 ``up`` event (its ``json`` marshaler: devEUI and gatewayID in base64, objectJSON a string)."""
    return {
        "applicationID": "12",
        "applicationName": "sensors",
        "deviceName": "cold-room-1",
        "devEUI": base64.b64encode(bytes.fromhex(dev_eui)).decode(),
        "rxInfo": [
            {
                "gatewayID": base64.b64encode(bytes.fromhex("0016c001f153a14c")).decode(),
                "rssi": -101,
                "loRaSNR": 5.5,
                "location": {"latitude": 52.37, "longitude": 4.89, "altitude": 0},
            }
        ],
        "txInfo": {"frequency": 868100000, "dr": 5},
        "adr": True,
        "fCnt": f_cnt,
        "fPort": 85,
        "data": base64.b64encode(b"\x01\x02").decode(),
        "objectJSON": json.dumps({"temperature": temperature, "humidity": 51}),
        "tags": {"site": "warehouse"},
    }


def helium_up(dev_eui: str, *, temperature: float = 18.0, fcnt: int = 3) -> dict[str, Any]:
    """A Helium console HTTP integration uplink (dev_eui in upper-case hex, payload base64, hotspots)."""
    return {
        "app_eui": "6081F9D16837130E",
        "dev_eui": dev_eui.upper(),
        "devaddr": "48000012",
        "fcnt": fcnt,
        "port": 1,
        "id": str(uuid.uuid4()),
        "name": "cold-room-1",
        "payload": base64.b64encode(b"\x10\x20").decode(),
        "payload_size": 2,
        "reported_at": int(time.time() * 1000),
        "type": "uplink",
        "uuid": str(uuid.uuid4()),
        "hotspots": [
            {
                "id": "112qSwZ",
                "name": "tiny-red-fox",
                "rssi": -110,
                "snr": 3.2,
                "spreading": "SF9BW125",
                "frequency": 904.1,
                "channel": 0,
                "status": "success",
                "reported_at": int(time.time() * 1000) - 12,
            }
        ],
        "decoded": {"status": "success", "payload": {"temperature": temperature, "humidity": 60}},
        "metadata": {"labels": [], "organization_id": "8f2e"},
    }


# ------------------------------------------------------------------ a sink that fails on command
class ScriptedSink(Sink):
    """A :class:`Sink` answering the statuses of ``script`` to its first calls, then ``then``."""

    def __init__(self, script: list[int] | None = None, then: int = 200):
        self._script = list(script or [])
        self._lock = threading.Lock()
        super().__init__(status=then)

    @property  # type: ignore[override]
    def status(self) -> int:
        with self._lock:
            return self._script.pop(0) if self._script else self._then

    @status.setter
    def status(self, value: int) -> None:
        self._then = value

    def bodies(self) -> list[Any]:
        return [r["body"] for r in self.requests]


# ------------------------------------------------------------------ the worker on the real queue (moto)
def queue_url(name: str = STEPS_QUEUE) -> str:
    import boto3

    from tests.support import STACK

    return boto3.client("sqs", region_name="us-east-1").get_queue_url(QueueName=STACK.physical_name(name))["QueueUrl"]


def poller(api: Any, *, wait_seconds: int = 0) -> Any:
    """The local cloud's SQS event source mapping for the flow worker, on the test's moto queue."""
    import boto3

    from localcloud.sqs import SqsPoller, event_sources
    from tests.support import STACK

    sqs = boto3.client("sqs", region_name="us-east-1")
    source = next(s for s in event_sources(STACK, sqs) if s.function == "FlowWorkerFunction")
    return SqsPoller(source, sqs, api.functions.invoke, wait_seconds=wait_seconds)


def queue_depth(name: str = STEPS_QUEUE) -> int:
    import boto3

    attrs = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=queue_url(name),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def run_worker(api: Any, *, until: Callable[[], bool] | None = None, timeout: float = 20.0) -> int:
    """Feed the steps queue to the flow worker until it is empty (or ``until()``); returns the batches handled.
    Bounded by ``timeout`` seconds; waits out delayed messages (retry backoff) by polling."""
    feed = poller(api)
    deadline = time.monotonic() + timeout
    batches = 0
    while time.monotonic() < deadline:
        if feed.poll_once():
            batches += 1
            continue
        if (until is not None and until()) or (until is None and queue_depth() == 0):
            return batches
        time.sleep(0.1)
    raise AssertionError(f"the flow worker did not finish within {timeout} s ({queue_depth()} messages left)")


def dead_letter_messages() -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    got = sqs.receive_message(QueueUrl=queue_url(DEAD_LETTER_QUEUE), MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


# ------------------------------------------------------------------ per-instance caches
def later(monkeypatch: Any, seconds: float = 3600.0) -> None:
    """Move the per-instance caches' clock ``seconds`` on: what a warm instance remembered (ingest keys, a device's
    flow triggers) has expired, as it would have that much later."""
    from fleetgate.core import cache

    now = cache.clock
    monkeypatch.setattr(cache, "clock", lambda: now() + seconds)
