"""The estates context's records: what its repository stores and its services work on (never sent as is).

Money is held in integer cents, so sums and balances are exact; meter values, consumption, rates and
percentages are Decimals. Timestamps are ``fleetgate.core.ids.iso`` strings (UTC, milliseconds, ``Z``); the
API shows them in the mobile family's own form (see ``schemas.timestamp``).

Records are immutable ``typing.NamedTuple``s: built by position or keyword, changed with ``_replace``, their field
names in ``_fields``, their values as a dict by ``_asdict()`` (what the repository stores). Being tuples, they are
never handed to a JSON encoder as they are (it would write a list): the schemas' ``of`` build the API's views.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from fleetgate.core.settings import repr_without

# Import cost (this module is on the cold start of the Mobile and EstatesAdmin functions; median of warm runs,
# bytecode compiled, Python 3.11): ~18.6 ms with 18 @dataclass(frozen=True) records, each exec'ing the generated
# source of six methods; ~5.9 ms as NamedTuples; ~3.6 ms with their annotations evaluated, not postponed (no
# ``from __future__ import annotations`` here: NamedTuple turns every string annotation into a ForwardRef, compiling
# it). So an annotation here may only name what is defined above it.


def today() -> date:
    """Leases run by UTC calendar days."""
    return datetime.now(UTC).date()


Utility = Literal["electricity", "water"]
Role = Literal["owner", "tenant"]
ReadingStatus = Literal["baseline", "charged", "lower_than_previous", "no_tariff"]
TransactionType = Literal["credit", "debit"]


class Estate(NamedTuple):
    id: int
    name: str
    address: str | None
    electricity_markup_percent: Decimal
    water_markup_percent: Decimal
    created_at: str
    updated_at: str

    def markup_percent(self, utility: Utility) -> Decimal:
        return self.electricity_markup_percent if utility == "electricity" else self.water_markup_percent


class Tier(NamedTuple):
    start: Decimal  # "from" in the API
    end: Decimal | None  # "to"; None: no upper bound (last tier only)
    rate: Decimal


class Tariff(NamedTuple):
    """A price per unit of consumption, flat or in progressive tiers, of an estate or (override) of one unit."""

    scope: Literal["estate", "unit"]
    scope_id: int
    utility_type: Utility
    flat_rate: Decimal | None
    tiers: tuple[Tier, ...]
    updated_at: str


class Unit(NamedTuple):
    id: int
    estate_id: int
    unit_number: str
    created_at: str
    updated_at: str


class Wallet(NamedTuple):
    unit_id: int
    balance_cents: int
    low_balance_threshold_cents: int
    low_alerted: bool  # an alert went out since the balance last fell below the threshold
    status: str
    version: int  # raised by every balance change: each one is conditioned on the version it read
    last_transaction_date: str | None


class Meter(NamedTuple):
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


class Ownership(NamedTuple):
    unit_id: int
    estate_id: int
    person_id: int
    ownership_percentage: Decimal
    is_primary: bool
    created_at: str


class Tenancy(NamedTuple):
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


class UnitView(NamedTuple):
    """Everything of one unit, from one Query of its partition. Its containers are required (a NamedTuple default
    would be one dict or list shared by every instance)."""

    unit: Unit
    wallet: Wallet | None
    tariffs: dict[str, Tariff]
    meters: list[Meter]
    owners: list[Ownership]
    tenants: list[Tenancy]

    def meter(self, meter_id: int) -> Meter | None:
        return next((m for m in self.meters if m.id == meter_id), None)

    def residents(self, today: date) -> list[int]:
        """Owners and tenants under an active lease: the people who may see the unit."""
        tenants = [t.person_id for t in self.tenants if t.status(today) == "active"]
        return sorted({o.person_id for o in self.owners} | set(tenants))


class MeterState(NamedTuple):
    """What pricing a reading needs of its unit, in ONE BatchGetItem: the meter, the wallet, the unit's tariffs."""

    unit: Unit
    meter: Meter
    wallet: Wallet | None
    tariffs: dict[str, Tariff]


class EstateView(NamedTuple):
    estate: Estate
    tariffs: dict[str, Tariff]


class Person(NamedTuple):
    id: int
    first_name: str
    last_name: str
    phone: str  # E.164
    email: str | None
    mobile_user_id: int | None
    created_at: str
    updated_at: str


class MobileUser(NamedTuple):
    id: int
    person_id: int
    phone_number: str
    password_hash: str  # never in the repr: see __repr__
    password_must_change: bool
    is_active: bool
    token_version: int  # in every token (``ver``); a password change raises it, ending earlier tokens
    last_login: str | None
    created_at: str
    updated_at: str
    kept_token: str | None = None  # ``jti`` of the token that changed the password: that session goes on

    def __repr__(self) -> str:
        """Every field but the password hash, which must never reach a log or a trace."""
        return repr_without(self, "password_hash")


class PhoneClaim(NamedTuple):
    phone: str
    person_id: int
    mobile_user_id: int | None


class MeterRef(NamedTuple):
    meter_id: int
    unit_id: int


class Reading(NamedTuple):
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


class LedgerEntry(NamedTuple):
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


class Notification(NamedTuple):
    person_id: int
    kind: Literal["temporary_password", "low_balance"]
    phone: str
    status: Literal["sent", "not_sent", "failed"]
    detail: str
    created_at: str
