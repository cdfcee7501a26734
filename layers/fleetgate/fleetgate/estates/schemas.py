"""The estates family's contract: its forms, its error answers and the views both audiences show (a profile, a
person, a meter, a reading, a wallet, a transaction). The mobile API's own requests and answers are in
mobile_schemas (the estates admin function never imports them), the staff portal's in portal_schemas (the mobile
function never imports them).

The family's own forms: integer ids, timestamps like ``2024-01-15T10:30:00`` (UTC, no zone, no fractions),
dates like ``2024-01-01``, money and meter values as JSON numbers (money rounded to cents).
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from decimal import Decimal
from typing import Literal

from pydantic import Field

from fleetgate.core.schemas import Schema
from fleetgate.estates.records import (
    LedgerEntry,
    Meter,
    MobileUser,
    Person,
    Reading,
    Wallet,
)


# ---------------------------------------------------------------- the family's forms
def timestamp(iso: str | None) -> str | None:
    """``2024-01-15T10:30:00.123Z`` (stored) → ``2024-01-15T10:30:00`` (shown)."""
    return iso[:19] if iso else None


def rands(cents: int) -> float:
    return cents / 100


def number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


# ---------------------------------------------------------------- views both audiences show
class UserProfile(Schema):
    id: int
    person_id: int
    phone_number: str
    password_must_change: bool
    last_login: str | None
    is_active: bool

    @classmethod
    def of(cls, user: MobileUser) -> "UserProfile":
        return cls(
            id=user.id,
            person_id=user.person_id,
            phone_number=user.phone_number,
            password_must_change=user.password_must_change,
            last_login=timestamp(user.last_login),
            is_active=user.is_active,
        )


class LoginUser(UserProfile):
    created_at: str

    @classmethod
    def of(cls, user: MobileUser) -> "LoginUser":
        return cls(**UserProfile.of(user).model_dump(), created_at=timestamp(user.created_at))


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    full_name: str
    phone: str
    email: str | None

    @classmethod
    def of(cls, person: Person) -> "PersonOut":
        return cls(
            id=person.id,
            first_name=person.first_name,
            last_name=person.last_name,
            full_name=f"{person.first_name} {person.last_name}",
            phone=person.phone,
            email=person.email,
        )


class MeterSummary(Schema):
    id: int
    serial_number: str
    meter_type: str
    utility_type: str
    current_reading: float | None
    last_reading_date: str | None
    status: str
    device_type: str | None
    communication_type: str | None

    @classmethod
    def of(cls, meter: Meter) -> "MeterSummary":
        return cls(
            id=meter.id,
            serial_number=meter.serial_number,
            meter_type=meter.meter_type,
            utility_type=meter.utility_type,
            current_reading=number(meter.current_reading),
            last_reading_date=timestamp(meter.last_reading_date),
            status=meter.status,
            device_type=meter.device_type,
            communication_type=meter.communication_type,
        )


class ReadingOut(Schema):
    id: int
    reading_value: float
    reading_date: str
    cost: float = Field(description="What billing charged for this reading")
    consumption: float = Field(description="The usage since the meter's previous reading")

    @classmethod
    def of(cls, reading: Reading) -> "ReadingOut":
        return cls(
            id=reading.id,
            reading_value=float(reading.reading_value),
            reading_date=timestamp(reading.reading_date),
            cost=rands(reading.cost_cents),
            consumption=float(reading.consumption),
        )


class WalletOut(Schema):
    id: int
    unit_id: int
    balance: float
    status: str
    last_transaction_date: str | None

    @classmethod
    def of(cls, wallet: Wallet) -> "WalletOut":
        return cls(
            id=wallet.unit_id,  # one wallet per unit: it takes the unit's id
            unit_id=wallet.unit_id,
            balance=rands(wallet.balance_cents),
            status=wallet.status,
            last_transaction_date=timestamp(wallet.last_transaction_date),
        )


class TransactionOut(Schema):
    id: int
    transaction_type: Literal["credit", "debit"]
    amount: float
    description: str
    transaction_date: str
    balance_after: float

    @classmethod
    def of(cls, entry: LedgerEntry) -> "TransactionOut":
        return cls(
            id=entry.id,
            transaction_type=entry.transaction_type,
            amount=rands(entry.amount_cents),
            description=entry.description,
            transaction_date=timestamp(entry.transaction_date),
            balance_after=rands(entry.balance_after_cents),
        )


# ---------------------------------------------------------------- OpenAPI: this family's error answers
_ERRORS = {
    400: "Invalid input (missing or invalid fields)",
    401: "Invalid or expired token",
    403: "Access denied",
    404: "Not found",
    409: "Conflict with the current state",
    429: "Too many failed logins for this phone number (Retry-After says when to try again)",
}


def error_responses(*statuses: int) -> dict[int, dict]:
    """The error answers a route documents; the resolver gives each the family's ``{"error", "message"}`` body."""
    return {s: {"description": _ERRORS[s]} for s in statuses}
