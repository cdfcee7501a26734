"""Sending flow steps: SQS (SendMessageBatch, DelaySeconds up to the delay limit) and EventBridge Scheduler
one-time ``at()`` schedules for longer delays, whose target is the steps queue itself.

The clients are core.repository's service clients (the shared connection's session), built on first use:
functions that never send a step never create them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetgate.core.observability import logger
from fleetgate.core.repository import service_client
from fleetgate.engine.schemas import Outgoing
from fleetgate.engine.settings import dead_letter_queue_url, get_engine_settings

SQS_MAX_DELAY = 900
SQS_MAX_BATCH = 10
SQS_MAX_BYTES = 256 * 1024
MAX_STEP_BYTES = SQS_MAX_BYTES - 2048  # room for SQS's own accounting


class StepTooLarge(ValueError):
    pass


def sqs() -> Any:
    return service_client("sqs")


def scheduler() -> Any:
    return service_client("scheduler")


def send_steps(steps: Iterable[Outgoing], *, now: datetime | None = None) -> int:
    """Send every step (SQS batches of 10 and at most 256 KiB; delays beyond the SQS limit as schedules).
    Raises when a step could not be sent: the caller's message is then redelivered, and the steps that did go
    out are deduplicated by their own claims."""
    settings = get_engine_settings()
    batch: list[dict[str, Any]] = []
    size = 0
    sent = 0
    for out in steps:
        body = out.step.encode()
        if len(body.encode()) > MAX_STEP_BYTES:
            raise StepTooLarge(f"step {out.step.node_id} is {len(body) // 1024} KiB, over SQS's 256 KiB")
        if out.delay > settings.sqs_delay_limit:
            schedule_step(out, now=now)
            sent += 1
            continue
        entry = {"Id": str(len(batch)), "MessageBody": body}
        if out.delay > 0:
            entry["DelaySeconds"] = min(int(math.ceil(out.delay)), SQS_MAX_DELAY)
        if len(batch) == SQS_MAX_BATCH or size + len(body.encode()) > SQS_MAX_BYTES - 1024:
            _send_batch(settings.steps_queue_url, batch)
            batch, size = [], 0
            entry["Id"] = "0"
        batch.append(entry)
        size += len(body.encode())
        sent += 1
    if batch:
        _send_batch(settings.steps_queue_url, batch)
    return sent


def _send_batch(queue_url: str, entries: list[dict[str, Any]]) -> None:
    pending = entries
    for _ in range(3):
        failed = sqs().send_message_batch(QueueUrl=queue_url, Entries=pending).get("Failed") or []
        if not failed:
            return
        retry = {f["Id"] for f in failed if not f.get("SenderFault")}
        if len(retry) < len(failed):
            raise RuntimeError(f"SQS refused {len(failed) - len(retry)} step(s): {failed[0].get('Message')}")
        pending = [e for e in pending if e["Id"] in retry]
    raise RuntimeError(f"SQS did not accept {len(pending)} step(s) after 3 tries")


def send_dead_letter(body: dict[str, Any]) -> None:
    sqs().send_message(
        QueueUrl=dead_letter_queue_url(),
        MessageBody=json.dumps(body, separators=(",", ":"), default=str),
    )


def schedule_name(out: Outgoing) -> str:
    """Deterministic (a re-sent step finds its schedule already there) and at most 64 characters."""
    prefix = get_engine_settings().schedule_prefix
    digest = hashlib.sha256(f"{out.step.run_id}|{out.step.key}".encode()).hexdigest()
    room = max(16, 63 - len(prefix))
    return f"{prefix[: 63 - room]}-{digest[:room]}"


def schedule_step(out: Outgoing, *, now: datetime | None = None) -> None:
    """A one-time schedule that sends the step to the steps queue after ``out.delay`` seconds."""
    settings = get_engine_settings()
    due = (now or datetime.now(UTC)) + timedelta(seconds=out.delay)
    if due.microsecond:
        due = due.replace(microsecond=0) + timedelta(seconds=1)
    client = scheduler()
    try:
        client.create_schedule(
            Name=schedule_name(out),
            ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Description=f"Fleetgate flow {out.step.flow_id} run {out.step.run_id}: delayed step {out.step.node_id}",
            Target={
                "Arn": settings.steps_queue_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": out.step.encode(),
                "RetryPolicy": {"MaximumRetryAttempts": 185},
            },
        )
    except client.exceptions.ConflictException:
        logger.info("delay schedule exists already", extra={"run_id": out.step.run_id, "node_id": out.step.node_id})
