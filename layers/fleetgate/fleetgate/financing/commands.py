"""Lock commands: a durable outbox, sent over FCM by an SQS consumer until the phone acknowledges them.

A command is the customer's ``cmd_*`` attributes (one pending command per customer: a newer one replaces the
older in the same write) plus its lines in the command log. Sending goes through the lock-commands queue: each
message names the command and the send number (``attempt``) it may claim. The consumer claims that number
with a conditional write before sending, so a duplicate message, or an older message once a newer one has
been queued (a new FCM token, a failed lock), is dropped; after each send it queues the next one with a delay
that doubles (30 s, 1 min, ... up to 15 min, SQS's longest), until:

- the phone's lock-response with ``lockSuccess: true`` for that action acknowledges it (``isLocked`` changes
  only then), or
- it expires (``LOCK_COMMAND_TTL_HOURS``, 24 by default), or a newer command replaces it, or
- FCM answers UNREGISTERED or INVALID_ARGUMENT: the token is dropped, the customer must register again and
  the command ends as failed. UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED (and anything else) are retried.

A command of a customer without a token waits: registering a token sends it at once. EMI reminders use the
same queue and sender, a few tries at most, without a trail. This module is the outbox (the routes and the
enforcement schedule issue and answer commands); the queue's consumer, which sends over FCM, is ``delivery``.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from fleetgate.core.ids import iso
from fleetgate.core.observability import logger
from fleetgate.core.repository import service_client
from fleetgate.financing import repository, settings
from fleetgate.financing.customers import Command, Customer
from fleetgate.financing.errors import CustomerNotFound, QueueUnavailable
from fleetgate.financing.schemas import Action, AuditEntry


def enqueue(body: dict[str, Any], delay: int) -> None:
    service_client("sqs").send_message(
        QueueUrl=settings.commands().queue_url, MessageBody=json.dumps(body), DelaySeconds=max(0, min(delay, 900))
    )


def send_command(customer_id: str, command_id: str, attempt: int, delay: int = 0) -> None:
    enqueue({"v": 1, "kind": "command", "customerId": customer_id, "commandId": command_id, "attempt": attempt}, delay)


def backoff(attempt: int) -> int:
    """Seconds until the send after send number ``attempt``: doubling from the first backoff, capped."""
    cfg = settings.commands()
    return min(cfg.first_backoff * 2 ** max(0, attempt - 1), cfg.max_backoff)


# ------------------------------------------------------------------ issuing and answering (routes, enforcement)
def issue(customer: Customer, action: Action, *, source: str, now: datetime) -> Command:
    """Make a new pending command for ``customer`` (replacing any older one), log it and queue its first send."""
    cfg = settings.commands()
    previous = customer.pending_command(now)
    command = Command(
        id=uuid.uuid4().hex,
        action=action,
        source=source,
        created_at=iso(now),
        expires_at=iso(now + timedelta(hours=cfg.ttl_hours)),
    )
    if not repository.put_command(customer.id, command):
        raise CustomerNotFound(by_imei=False)
    repository.append_log(
        customer.id,
        [
            AuditEntry(
                type="COMMAND",
                at=command.created_at,
                command_id=command.id,
                action=action,
                source=source,
                supersedes=previous.id if previous else None,
            )
        ],
    )
    if customer.fcm_token:
        try:
            send_command(customer.id, command.id, 1)
        except Exception:
            logger.exception("lock command stored but not queued", extra={"command_id": command.id})
            raise QueueUnavailable(
                "The command is recorded but could not be queued for sending: try again in a moment"
            ) from None
    return command


def record_response(customer: Customer, action: Action, success: bool, error: str | None, now: datetime) -> bool:
    """The phone's answer to a lock or unlock. A success for the pending command's action acknowledges it (and
    sets ``isLocked``); a failure is recorded and the command is sent again soon. Returns whether the answer
    matched the pending command (answers to nothing are recorded, and change nothing)."""
    pending = customer.pending_command(now)
    matches = pending is not None and pending.action == action
    entry = AuditEntry(
        type="LOCK_RESPONSE",
        at=iso(now),
        command_id=pending.id if pending and matches else None,
        action=action,
        lock_success=success,
        error_message=error,
    )
    if pending is not None and matches:
        if success:
            if repository.set_lock_state(
                customer.id, is_locked=action == "LOCK_DEVICE", acknowledged=pending.id, at=iso(now)
            ):
                entry = entry.model_copy(update={"status": "ACKNOWLEDGED"})
        else:
            send_command(customer.id, pending.id, pending.attempts + 1, delay=settings.commands().first_backoff)
    repository.append_log(customer.id, [entry])
    return matches


def token_registered(customer: Customer, fcm_token: str, now: datetime) -> None:
    """A phone registered a token: a pending command goes to a new one at once (the older chain of sends is
    dropped at its next claim)."""
    pending = customer.pending_command(now)
    if pending is not None and (fcm_token != customer.fcm_token or customer.needs_reregistration):
        send_command(customer.id, pending.id, pending.attempts + 1)


def remind(customer_id: str, day: date) -> None:
    enqueue({"v": 1, "kind": "reminder", "customerId": customer_id, "day": day.isoformat(), "attempt": 1}, 0)
