"""A financed phone's customer record and the rules on its instalments and its pending lock command.

Plain data and pure functions: the services decide with these, the repository stores them. The records are
immutable ``typing.NamedTuple``s (cheaper to define at import than frozen dataclasses; no postponed annotations,
which NamedTuple would compile one by one), changed with ``_replace``. Being tuples, they are never handed to a JSON
encoder or a logger's ``extra`` as they are: ``view`` and ``pending_view`` build the API's models.
"""

import secrets
import time
from datetime import date, datetime
from typing import NamedTuple

from fleetgate.core.ids import iso
from fleetgate.core.settings import repr_without
from fleetgate.financing.schemas import (
    Action,
    CustomerOut,
    EmiDetailsOut,
    InstalmentOut,
    Location,
    PendingCommand,
)


def new_customer_id() -> str:
    """24 hex digits, like the sample's MongoDB ObjectIds: 4 bytes of creation time, 8 random."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def day_iso(day: date) -> str:
    """A due date as the contract writes times: midnight UTC, milliseconds and Z."""
    return f"{day.isoformat()}T00:00:00.000Z"


class Emi(NamedTuple):
    month: str
    due_date: date
    amount: float
    paid: bool = False
    paid_date: date | None = None


class Command(NamedTuple):
    """The pending lock or unlock of a customer (the outbox head): pursued until acknowledged or expired."""

    id: str
    action: Action
    source: str  # staff | enforcement
    created_at: str
    expires_at: str
    attempts: int = 0  # sends claimed so far; each SQS message carries the attempt it may claim
    last_attempt_at: str | None = None
    last_error: str | None = None

    def live(self, now: datetime) -> bool:
        return iso(now) < self.expires_at


class Customer(NamedTuple):
    id: str
    full_name: str
    mobile_number: str
    imei1: str
    imei2: str | None
    emis: tuple[Emi, ...]
    created_at: str
    updated_at: str
    is_locked: bool = False
    fcm_token: str | None = None  # never in the repr (see __repr__)
    pin_hash: str | None = None  # never in the repr
    needs_reregistration: bool = False
    latitude: float | None = None
    longitude: float | None = None
    location_at: str | None = None
    command: Command | None = None
    notified_day: str | None = None  # the last day an EMI_REMINDER or an enforcement lock was issued

    def __repr__(self) -> str:
        """Every field but the device's FCM token and PIN hash, which must never reach a log or a trace."""
        return repr_without(self, "fcm_token", "pin_hash")

    @property
    def imeis(self) -> set[str]:
        return {i for i in (self.imei1, self.imei2) if i}

    def overdue(self, today: date) -> list[Emi]:
        """Unpaid instalments already due (due today included), oldest first."""
        return sorted((e for e in self.emis if not e.paid and e.due_date <= today), key=lambda e: e.due_date)

    def next_unpaid_due(self) -> date | None:
        """The sparse enforcement index's key: the earliest due date still unpaid (None when all are paid)."""
        return min((e.due_date for e in self.emis if not e.paid), default=None)

    def pending_command(self, now: datetime) -> Command | None:
        return self.command if self.command is not None and self.command.live(now) else None

    def location(self) -> Location | None:
        if self.latitude is None or self.longitude is None or self.location_at is None:
            return None
        return Location(latitude=self.latitude, longitude=self.longitude, last_updated=self.location_at)

    def view(self, now: datetime) -> CustomerOut:
        overdue = len(self.overdue(now.date()))
        command = self.pending_command(now)
        return CustomerOut(
            customer_id=self.id,
            full_name=self.full_name,
            mobile_number=self.mobile_number,
            imei1=self.imei1,
            imei2=self.imei2,
            emi_details=EmiDetailsOut(
                emi_months=[
                    InstalmentOut(
                        month=e.month,
                        due_date=day_iso(e.due_date),
                        amount=e.amount,
                        paid=e.paid,
                        paid_date=day_iso(e.paid_date) if e.paid_date else None,
                    )
                    for e in self.emis
                ]
            ),
            is_locked=self.is_locked,
            has_pending_emis=overdue > 0,
            pending_emi_count=overdue,
            has_fcm_token=bool(self.fcm_token),
            has_device_pin=bool(self.pin_hash),
            needs_reregistration=self.needs_reregistration,
            location=self.location(),
            pending_command=pending_view(command) if command else None,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


def pending_view(command: Command) -> PendingCommand:
    return PendingCommand(
        command_id=command.id,
        action=command.action,
        requested_at=command.created_at,
        expires_at=command.expires_at,
        attempts=command.attempts,
        last_attempt_at=command.last_attempt_at,
        last_error=command.last_error,
    )
