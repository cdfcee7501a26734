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
same queue and sender, a few tries at most, without a trail.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from fleetgate.core.errors import ConfigurationError
from fleetgate.core.ids import iso
from fleetgate.core.observability import logger
from fleetgate.core.repository import service_client
from fleetgate.financing import notifier, repository, settings
from fleetgate.financing.customers import Command, Customer, day_iso
from fleetgate.financing.errors import CustomerNotFound, QueueUnavailable
from fleetgate.financing.schemas import Action, AuditEntry

NOTIFICATIONS: dict[str, tuple[str, str]] = {  # the contract's notification title and body per action
    "LOCK_DEVICE": ("Device Lock Alert", "Your device has been locked due to pending EMI payments."),
    "UNLOCK_DEVICE": ("Device Unlock Alert", "Your device has been unlocked. Thank you for your payment."),
}


def _enqueue(body: dict[str, Any], delay: int) -> None:
    service_client("sqs").send_message(
        QueueUrl=settings.commands().queue_url, MessageBody=json.dumps(body), DelaySeconds=max(0, min(delay, 900))
    )


def _send_command(customer_id: str, command_id: str, attempt: int, delay: int = 0) -> None:
    _enqueue({"v": 1, "kind": "command", "customerId": customer_id, "commandId": command_id, "attempt": attempt}, delay)


def _backoff(attempt: int) -> int:
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
            _send_command(customer.id, command.id, 1)
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
            _send_command(customer.id, pending.id, pending.attempts + 1, delay=settings.commands().first_backoff)
    repository.append_log(customer.id, [entry])
    return matches


def token_registered(customer: Customer, fcm_token: str, now: datetime) -> None:
    """A phone registered a token: a pending command goes to a new one at once (the older chain of sends is
    dropped at its next claim)."""
    pending = customer.pending_command(now)
    if pending is not None and (fcm_token != customer.fcm_token or customer.needs_reregistration):
        _send_command(customer.id, pending.id, pending.attempts + 1)


def remind(customer_id: str, day: date) -> None:
    _enqueue({"v": 1, "kind": "reminder", "customerId": customer_id, "day": day.isoformat(), "attempt": 1}, 0)


# ------------------------------------------------------------------ the consumer
def deliver(body: str, now: datetime, *, receive_count: int = 1) -> str:
    """Handle one message of the lock-commands queue; returns what happened (for the logs). Raises only on
    infrastructure failures (the message is then redelivered). ``receive_count``: SQS's
    ApproximateReceiveCount of the message (above 1 it is a redelivery)."""
    message = json.loads(body)
    if message.get("kind") == "reminder":
        return _deliver_reminder(message, now)
    return _deliver_command(
        message["customerId"], message["commandId"], int(message["attempt"]), now, redelivered=receive_count > 1
    )


def _deliver_command(customer_id: str, command_id: str, attempt: int, now: datetime, *, redelivered: bool) -> str:
    customer = repository.get(customer_id, consistent=True)
    command = customer.command if customer is not None else None
    if customer is None or command is None or command.id != command_id:
        return "superseded"  # acknowledged, replaced, ended or deleted meanwhile
    at = iso(now)
    if not command.live(now):
        if repository.end_command(customer_id, command_id, at=at):
            repository.append_log(
                customer_id, [AuditEntry(type="COMMAND_ENDED", at=at, command_id=command_id, status="EXPIRED")]
            )
        return "expired"
    if not customer.fcm_token:
        return "waiting for a token"
    remaining = int((datetime.fromisoformat(command.expires_at.replace("Z", "+00:00")) - now).total_seconds())
    if not repository.claim_attempt(customer_id, command_id, attempt, at):
        if redelivered and command.attempts == attempt:
            # This send number was claimed by an earlier receive of this very message that stopped (a crash or
            # a timeout) before it could queue the next send: queue it now, or the command would never be sent
            # again. A copy too many is harmless: the next claim lets only one through.
            _send_command(customer_id, command_id, attempt + 1, delay=min(_backoff(attempt), max(0, remaining) + 1))
            return "resumed"
        return "duplicate"
    try:
        _send_command(customer_id, command_id, attempt + 1, delay=min(_backoff(attempt), max(0, remaining) + 1))
    except Exception:
        repository.release_attempt(customer_id, command_id, attempt)  # the redelivered message claims again
        raise
    outcome = _push(_command_push(customer, command, remaining))
    entry = AuditEntry(type="DELIVERY_ATTEMPT", at=at, command_id=command_id, attempt=attempt)
    if outcome.sent:
        repository.append_log(
            customer_id, [entry.model_copy(update={"outcome": "SENT", "fcm_message_id": outcome.message_id})]
        )
        return "sent"
    if outcome.token_invalid:
        repository.end_command(customer_id, command_id, drop_token=True, at=at)
        repository.append_log(
            customer_id,
            [
                entry.model_copy(update={"outcome": "FAILED", "fcm_error": outcome.error}),
                AuditEntry(
                    type="COMMAND_ENDED",
                    at=at,
                    command_id=command_id,
                    status="FAILED",
                    reason=f"FCM refused the device's token ({outcome.error}): the app must register again",
                ),
            ],
        )
        return "failed"
    repository.note_attempt_error(customer_id, command_id, outcome.error or "UNKNOWN")
    repository.append_log(customer_id, [entry.model_copy(update={"outcome": "RETRY", "fcm_error": outcome.error})])
    return "retry"


def _command_push(customer: Customer, command: Command, ttl_seconds: int) -> notifier.Push:
    title, text = NOTIFICATIONS[command.action]
    return notifier.Push(
        token=customer.fcm_token or "",
        title=title,
        body=text,
        data={"action": command.action, "timestamp": command.created_at, "type": "DEVICE_LOCK_STATUS"},
        collapse_key=f"lock-{customer.id}",
        ttl_seconds=ttl_seconds,
    )


def _deliver_reminder(message: dict[str, Any], now: datetime) -> str:
    customer = repository.get(message["customerId"])
    if customer is None or not customer.fcm_token:
        return "no token"
    overdue = customer.overdue(now.date())
    if not overdue:
        return "paid meanwhile"
    oldest = overdue[0]
    outcome = _push(
        notifier.Push(
            token=customer.fcm_token,
            title="EMI Payment Reminder",
            body=f"Your EMI of {oldest.amount:g} was due on {oldest.due_date.isoformat()}. "
            "Please pay to avoid your device being locked.",
            data={
                "type": "EMI_REMINDER",
                "timestamp": iso(now),
                "dueDate": day_iso(oldest.due_date),
                "amount": f"{oldest.amount:g}",
                "pendingEmiCount": str(len(overdue)),
            },
            collapse_key=f"reminder-{customer.id}",
            ttl_seconds=24 * 3600,
        )
    )
    if outcome.sent:
        return "sent"
    if outcome.token_invalid:
        repository.drop_token(customer.id, customer.fcm_token, iso(now))
        return "failed"
    attempt = int(message.get("attempt", 1))
    if attempt < settings.commands().reminder_attempts:
        _enqueue({**message, "attempt": attempt + 1}, _backoff(attempt))
    return "retry"


def _push(push: notifier.Push) -> notifier.Outcome:
    try:
        return notifier.send(push)
    except ConfigurationError as exc:
        logger.error("fcm is not configured", extra={"reason": exc.message})
        return notifier.Outcome(error="NOT_CONFIGURED")
