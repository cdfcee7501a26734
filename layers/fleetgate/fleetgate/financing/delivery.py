"""The lock-commands queue's consumer: sends a command (or an EMI reminder) over FCM when its message claims the
send, queues the next send, and records what FCM answered (see ``commands`` for the outbox it serves). Only the
sending function imports this module, and with it the FCM notifier."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fleetgate.core.errors import ConfigurationError
from fleetgate.core.ids import iso
from fleetgate.core.observability import logger
from fleetgate.financing import commands, notifier, repository, settings
from fleetgate.financing.customers import Command, Customer, day_iso
from fleetgate.financing.schemas import AuditEntry

NOTIFICATIONS: dict[str, tuple[str, str]] = {  # the contract's notification title and body per action
    "LOCK_DEVICE": ("Device Lock Alert", "Your device has been locked due to pending EMI payments."),
    "UNLOCK_DEVICE": ("Device Unlock Alert", "Your device has been unlocked. Thank you for your payment."),
}


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
    next_send = min(commands.backoff(attempt), max(0, remaining) + 1)  # delay of the next send, within the life
    if not repository.claim_attempt(customer_id, command_id, attempt, at):
        if redelivered and command.attempts == attempt:
            # This send number was claimed by an earlier receive of this very message that stopped (a crash or
            # a timeout) before it could queue the next send: queue it now, or the command would never be sent
            # again. A copy too many is harmless: the next claim lets only one through.
            commands.send_command(customer_id, command_id, attempt + 1, delay=next_send)
            return "resumed"
        return "duplicate"
    try:
        commands.send_command(customer_id, command_id, attempt + 1, delay=next_send)
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
        commands.enqueue({**message, "attempt": attempt + 1}, commands.backoff(attempt))
    return "retry"


def _push(push: notifier.Push) -> notifier.Outcome:
    try:
        return notifier.send(push)
    except ConfigurationError as exc:
        logger.error("fcm is not configured", extra={"reason": exc.message})
        return notifier.Outcome(error="NOT_CONFIGURED")
