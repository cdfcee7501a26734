"""The estates context's records: what its repository stores and its services work on (never sent as is).

Money is held in integer cents, so sums and balances are exact; meter values, consumption, rates and
percentages are Decimals. Timestamps are ``fleetgate.core.ids.iso`` strings (UTC, milliseconds, ``Z``); the
API shows them in the mobile family's own form (see ``schemas.timestamp``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal


def today() -> date:
    """Leases run by UTC calendar days."""
    return datetime.now(UTC).date()


Utility = Literal["electricity", "water"]
Role = Literal["owner", "tenant"]
ReadingStatus = Literal["baseline", "charged", "lower_than_previous", "no_tariff"]
TransactionType = Literal["credit", "debit"]


@dataclass(frozen=True)
class Estate:
    id: int
    name: str
    address: str | None
    electricity_markup_percent: Decimal
    water_markup_percent: Decimal
    created_at: str
    updated_at: str

    def markup_percent(self, utility: Utility) -> Decimal:
        return self.electricity_markup_percent if utility == "electricity" else self.water_markup_percent


@dataclass(frozen=True)
class Tier:
    start: Decimal  # "from" in the API
    end: Decimal | None  # "to"; None: no upper bound (last tier only)
    rate: Decimal


@dataclass(frozen=True)
class Tariff:
    """A price per unit of consumption, flat or in progressive tiers, of an estate or (override) of one unit."""

    scope: Literal["estate", "unit"]
    scope_id: int
    utility_type: Utility
    flat_rate: Decimal | None
    tiers: tuple[Tier, ...]
    updated_at: str


@dataclass(frozen=True)
class Unit:
    id: int
    estate_id: int
    unit_number: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Wallet:
    unit_id: int
    balance_cents: int
    low_balance_threshold_cents: int
    low_alerted: bool  # an alert went out since the balance last fell below the threshold
    status: str
    version: int  # raised by every balance change: each one is conditioned on the version it read
    last_transaction_date: str | None


@dataclass(frozen=True)
class Meter:
    id: int
    unit_id: int
    serial_number: str
    meter_type: str
    utility_type: Utility
    device_type: str | None
    communication_type: str | None
    dev_eui: str | None
    status: str
    current_reading: Decimal | None
    last_reading_date: str | None
    reading_seq: int  # readings recorded so far: each one is conditioned on the count it read
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Ownership:
    unit_id: int
    estate_id: int
    person_id: int
    ownership_percentage: Decimal
    is_primary: bool
    created_at: str


@dataclass(frozen=True)
class Tenancy:
    unit_id: int
    estate_id: int
    person_id: int
    monthly_rent: Decimal
    lease_start_date: str  # YYYY-MM-DD
    lease_end_date: str
    created_at: str
    ended_at: str | None = None

    def status(self, today: date) -> Literal["active", "upcoming", "expired", "ended"]:
        if self.ended_at:
            return "ended"
        day = today.isoformat()
        if day < self.lease_start_date:
            return "upcoming"
        return "expired" if day > self.lease_end_date else "active"


@dataclass(frozen=True)
class UnitView:
    """Everything of one unit, from one Query of its partition."""

    unit: Unit
    wallet: Wallet | None
    tariffs: dict[str, Tariff] = field(default_factory=dict)
    meters: list[Meter] = field(default_factory=list)
    owners: list[Ownership] = field(default_factory=list)
    tenants: list[Tenancy] = field(default_factory=list)

    def meter(self, meter_id: int) -> Meter | None:
        return next((m for m in self.meters if m.id == meter_id), None)

    def residents(self, today: date) -> list[int]:
        """Owners and tenants under an active lease: the people who may see the unit."""
        tenants = [t.person_id for t in self.tenants if t.status(today) == "active"]
        return sorted({o.person_id for o in self.owners} | set(tenants))


@dataclass(frozen=True)
class MeterState:
    """What pricing a reading needs of its unit, in ONE BatchGetItem: the meter, the wallet, the unit's tariffs."""

    unit: Unit
    meter: Meter
    wallet: Wallet | None
    tariffs: dict[str, Tariff] = field(default_factory=dict)


@dataclass(frozen=True)
class EstateView:
    estate: Estate
    tariffs: dict[str, Tariff] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    phone: str  # E.164
    email: str | None
    mobile_user_id: int | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class MobileUser:
    id: int
    person_id: int
    phone_number: str
    password_hash: str = field(repr=False)
    password_must_change: bool
    is_active: bool
    token_version: int  # in every token (``ver``); a password change raises it, ending earlier tokens
    last_login: str | None
    created_at: str
    updated_at: str
    kept_token: str | None = None  # ``jti`` of the token that changed the password: that session goes on


@dataclass(frozen=True)
class PhoneClaim:
    phone: str
    person_id: int
    mobile_user_id: int | None


@dataclass(frozen=True)
class MeterRef:
    meter_id: int
    unit_id: int


@dataclass(frozen=True)
class Reading:
    id: int
    meter_id: int
    unit_id: int
    key: str  # idempotency key: a second reading with the same key on the same meter is the same reading
    reading_value: Decimal
    reading_date: str
    consumption: Decimal
    cost_cents: int
    status: ReadingStatus
    transaction_id: int | None
    created_at: str


@dataclass(frozen=True)
class LedgerEntry:
    """A wallet transaction (credit or debit), with the balance it left."""

    id: int
    unit_id: int
    transaction_type: TransactionType
    amount_cents: int
    description: str
    transaction_date: str
    balance_after_cents: int
    reference: str | None = None
    reading_id: int | None = None


@dataclass(frozen=True)
class Notification:
    person_id: int
    kind: Literal["temporary_password", "low_balance"]
    phone: str
    status: Literal["sent", "not_sent", "failed"]
    detail: str
    created_at: str
