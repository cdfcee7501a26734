"""The estates family's contract: requests and responses of the mobile API (../shared/specs/mobile-app-api.md,
field for field) and of the staff portal (/api/admin, the paths and bodies issue 10 fixes).

The family's own forms: integer ids, timestamps like ``2024-01-15T10:30:00`` (UTC, no zone, no fractions),
dates like ``2024-01-01``, money and meter values as JSON numbers (money rounded to cents).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, StringConstraints

from fleetgate.core.schemas import Input, Schema
from fleetgate.estates.records import (
    Estate,
    LedgerEntry,
    Meter,
    MobileUser,
    Notification,
    Ownership,
    Person,
    Reading,
    Tariff,
    Tenancy,
    Unit,
    Wallet,
)

MAX_ID = 2**53 - 1


# ---------------------------------------------------------------- the family's forms
def timestamp(iso: str | None) -> str | None:
    """``2024-01-15T10:30:00.123Z`` (stored) → ``2024-01-15T10:30:00`` (shown)."""
    return iso[:19] if iso else None


def rands(cents: int) -> float:
    return cents / 100


def number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


_EUI_SEPARATORS = re.compile(r"[\s:-]")
_EUI = re.compile(r"^[0-9a-f]{16}$")


def normalize_dev_eui(value: str) -> str:
    """A device-manager DevEUI as the device manager stores it: 16 lower-case hex digits, no separators."""
    eui = _EUI_SEPARATORS.sub("", value).lower()
    if not _EUI.match(eui):
        raise ValueError("dev_eui must be 16 hexadecimal digits")
    return eui


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+", value):
        raise ValueError("value is not a valid email address")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Email = Annotated[str, AfterValidator(_email)]
DevEui = Annotated[str, AfterValidator(normalize_dev_eui)]
Money = Annotated[Decimal, Field(ge=-1_000_000, le=1_000_000, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=1000, decimal_places=4)]
Rate = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=6)]
Quantity = Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=6)]
Secret = Annotated[SecretStr, Field(max_length=128)]
UtilityType = Literal["electricity", "water"]
MeterType = Literal["prepaid", "postpaid"]
MeterStatus = Literal["active", "inactive", "faulty"]


class ErrorBody(Schema):
    """Every error of this family (the mobile contract's envelope)."""

    error: str = Field(description="What went wrong, e.g. 'Unit not found'")
    message: str = Field(description="Details, e.g. 'Unit with ID 10 not found'")


# ---------------------------------------------------------------- mobile: requests
class LoginRequest(Input):
    phone_number: Annotated[str, Field(max_length=40, description="E.164 (+27...) or South African (0...)")]
    password: Secret


class ChangePasswordRequest(Input):
    current_password: Secret | None = Field(default=None, description="Optional while a temporary password is in force")
    new_password: Secret = Field(description="8+ characters with an upper-case letter, a lower-case letter and a digit")


# ---------------------------------------------------------------- mobile: responses
class UserProfile(Schema):
    id: int
    person_id: int
    phone_number: str
    password_must_change: bool
    last_login: str | None
    is_active: bool

    @classmethod
    def of(cls, user: MobileUser) -> UserProfile:
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
    def of(cls, user: MobileUser) -> LoginUser:
        return cls(**UserProfile.of(user).model_dump(), created_at=timestamp(user.created_at))


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    full_name: str
    phone: str
    email: str | None

    @classmethod
    def of(cls, person: Person) -> PersonOut:
        return cls(
            id=person.id,
            first_name=person.first_name,
            last_name=person.last_name,
            full_name=f"{person.first_name} {person.last_name}",
            phone=person.phone,
            email=person.email,
        )


class OwnedUnit(Schema):
    unit_id: int
    unit_number: str
    estate_id: int
    estate_name: str
    role: Literal["owner"] = "owner"
    is_primary: bool
    ownership_percentage: float


class RentedUnit(Schema):
    unit_id: int
    unit_number: str
    estate_id: int
    estate_name: str
    role: Literal["tenant"] = "tenant"
    is_primary: bool = False
    monthly_rent: float
    lease_start_date: str
    lease_end_date: str


ResidentUnit = OwnedUnit | RentedUnit


def resident_unit(membership: Ownership | Tenancy, unit: Unit, estate: Estate) -> ResidentUnit:
    where = {"unit_id": unit.id, "unit_number": unit.unit_number, "estate_id": estate.id, "estate_name": estate.name}
    if isinstance(membership, Ownership):
        return OwnedUnit(
            **where, is_primary=membership.is_primary, ownership_percentage=float(membership.ownership_percentage)
        )
    return RentedUnit(
        **where,
        monthly_rent=float(membership.monthly_rent),
        lease_start_date=membership.lease_start_date,
        lease_end_date=membership.lease_end_date,
    )


class LoginResponse(Schema):
    token: str
    user: LoginUser
    person: PersonOut
    units: list[ResidentUnit]
    password_must_change: bool


class ChangePasswordResponse(Schema):
    message: str
    token: str = Field(description="A new token: tokens issued before the change no longer work")


class UserResponse(Schema):
    user: UserProfile
    person: PersonOut


class UnitsResponse(Schema):
    units: list[ResidentUnit]


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
    def of(cls, meter: Meter) -> MeterSummary:
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


class MeterDetail(Schema):
    id: int
    serial_number: str
    meter_type: str
    utility_type: str
    current_reading: float | None
    last_reading_date: str | None
    status: str
    unit_id: int
    unit_number: str
    device_type: str | None
    communication_type: str | None

    @classmethod
    def of(cls, meter: Meter, unit: Unit) -> MeterDetail:
        return cls(**MeterSummary.of(meter).model_dump(), unit_id=unit.id, unit_number=unit.unit_number)


class MetersResponse(Schema):
    meters: list[MeterSummary]


class MeterResponse(Schema):
    meter: MeterDetail


class ReadingOut(Schema):
    id: int
    reading_value: float
    reading_date: str
    cost: float = Field(description="What billing charged for this reading")
    consumption: float = Field(description="The usage since the meter's previous reading")

    @classmethod
    def of(cls, reading: Reading) -> ReadingOut:
        return cls(
            id=reading.id,
            reading_value=float(reading.reading_value),
            reading_date=timestamp(reading.reading_date),
            cost=rands(reading.cost_cents),
            consumption=float(reading.consumption),
        )


class ReadingsMeter(Schema):
    id: int
    serial_number: str
    utility_type: str


class ReadingsResponse(Schema):
    readings: list[ReadingOut]
    meter: ReadingsMeter


class WalletOut(Schema):
    id: int
    unit_id: int
    balance: float
    status: str
    last_transaction_date: str | None

    @classmethod
    def of(cls, wallet: Wallet) -> WalletOut:
        return cls(
            id=wallet.unit_id,  # one wallet per unit: it takes the unit's id
            unit_id=wallet.unit_id,
            balance=rands(wallet.balance_cents),
            status=wallet.status,
            last_transaction_date=timestamp(wallet.last_transaction_date),
        )


class WalletResponse(Schema):
    wallet: WalletOut


class TransactionOut(Schema):
    id: int
    transaction_type: Literal["credit", "debit"]
    amount: float
    description: str
    transaction_date: str
    balance_after: float

    @classmethod
    def of(cls, entry: LedgerEntry) -> TransactionOut:
        return cls(
            id=entry.id,
            transaction_type=entry.transaction_type,
            amount=rands(entry.amount_cents),
            description=entry.description,
            transaction_date=timestamp(entry.transaction_date),
            balance_after=rands(entry.balance_after_cents),
        )


class TransactionsResponse(Schema):
    transactions: list[TransactionOut]


# ---------------------------------------------------------------- staff portal: requests
class EstateCreate(Input):
    name: Text
    address: Annotated[str, Field(max_length=500)] | None = None
    electricity_markup_percent: Percent = Decimal(0)
    water_markup_percent: Percent = Decimal(0)


class EstateUpdate(Input):
    """Fields to change; absent fields keep their value."""

    name: Text | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    electricity_markup_percent: Percent | None = None
    water_markup_percent: Percent | None = None


class UnitCreate(Input):
    unit_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class UnitUpdate(Input):
    unit_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class PersonCreate(Input):
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: Annotated[str, Field(min_length=1, max_length=40, description="E.164 (+27...) or South African (0...)")]
    email: Email | None = None


class PersonUpdate(Input):
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    phone: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    email: Email | None = None


class OwnerAdd(Input):
    person_id: Id
    ownership_percentage: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] = Decimal(100)
    is_primary: bool | None = Field(default=None, description="Default: true when the unit has no primary owner yet")


class TenantAdd(Input):
    person_id: Id
    monthly_rent: Annotated[Decimal, Field(ge=0, le=10_000_000, decimal_places=2)]
    lease_start_date: date
    lease_end_date: date


class MobileUserUpdate(Input):
    is_active: bool


class MeterCreate(Input):
    serial_number: ShortText
    meter_type: MeterType
    utility_type: UtilityType
    device_type: ShortText | None = None
    communication_type: ShortText | None = None
    dev_eui: DevEui | None = Field(default=None, description="Links the meter to the device-manager device")


class MeterUpdate(Input):
    serial_number: ShortText | None = None
    meter_type: MeterType | None = None
    device_type: ShortText | None = None
    communication_type: ShortText | None = None
    dev_eui: DevEui | None = Field(default=None, description="null unlinks the device")
    status: MeterStatus | None = None


class TierIn(Input):
    start: Quantity = Field(alias="from")
    to: Quantity | None = Field(description="null: no upper bound (last tier only)")
    rate: Rate


class TariffPut(Input):
    """Exactly one of ``flat_rate`` and ``tiers``: a price per unit of consumption (kWh, kl, ...)."""

    flat_rate: Rate | None = None
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=10)] | None = None


class ReadingCreate(Input):
    reading_value: Quantity
    reading_date: datetime | None = Field(default=None, description="Default: now; without a zone it is UTC")


class TopupCreate(Input):
    amount: Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=2)]
    reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\x21-\x7e ]+$")
    ] = Field(description="The payment's reference: the same reference again credits nothing")
    description: Annotated[str, Field(max_length=200)] | None = None


class WalletUpdate(Input):
    low_balance_threshold: Money


# ---------------------------------------------------------------- staff portal: responses
class EstateOut(Schema):
    id: int
    name: str
    address: str | None
    electricity_markup_percent: float
    water_markup_percent: float
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, estate: Estate) -> EstateOut:
        return cls(
            id=estate.id,
            name=estate.name,
            address=estate.address,
            electricity_markup_percent=float(estate.electricity_markup_percent),
            water_markup_percent=float(estate.water_markup_percent),
            created_at=timestamp(estate.created_at),
            updated_at=timestamp(estate.updated_at),
        )


class TierOut(Schema):
    start: float = Field(serialization_alias="from")
    to: float | None
    rate: float


class TariffOut(Schema):
    utility_type: str
    scope: Literal["estate", "unit"]
    estate_id: int | None
    unit_id: int | None
    type: Literal["flat", "tiered"]
    flat_rate: float | None
    tiers: list[TierOut] | None
    updated_at: str

    @classmethod
    def of(cls, tariff: Tariff) -> TariffOut:
        return cls(
            utility_type=tariff.utility_type,
            scope=tariff.scope,
            estate_id=tariff.scope_id if tariff.scope == "estate" else None,
            unit_id=tariff.scope_id if tariff.scope == "unit" else None,
            type="tiered" if tariff.tiers else "flat",
            flat_rate=number(tariff.flat_rate),
            tiers=[TierOut(start=float(t.start), to=number(t.end), rate=float(t.rate)) for t in tariff.tiers] or None,
            updated_at=timestamp(tariff.updated_at),
        )


class EstateCreated(Schema):
    message: str
    estate: EstateOut


class EstateDetail(Schema):
    estate: EstateOut
    tariffs: list[TariffOut]


class EstatesPage(Schema):
    estates: list[EstateOut]
    next_cursor: str | None = None


class UnitOut(Schema):
    id: int
    estate_id: int
    unit_number: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(
            id=unit.id,
            estate_id=unit.estate_id,
            unit_number=unit.unit_number,
            created_at=timestamp(unit.created_at),
            updated_at=timestamp(unit.updated_at),
        )


class UnitCreated(Schema):
    message: str
    unit: UnitOut


class UnitsPage(Schema):
    units: list[UnitOut]
    next_cursor: str | None = None


class StaffWallet(Schema):
    id: int
    unit_id: int
    balance: float
    status: str
    low_balance_threshold: float
    last_transaction_date: str | None

    @classmethod
    def of(cls, wallet: Wallet) -> StaffWallet:
        return cls(**WalletOut.of(wallet).model_dump(), low_balance_threshold=rands(wallet.low_balance_threshold_cents))


class OwnerOut(Schema):
    person_id: int
    ownership_percentage: float
    is_primary: bool
    created_at: str

    @classmethod
    def of(cls, owner: Ownership) -> OwnerOut:
        return cls(
            person_id=owner.person_id,
            ownership_percentage=float(owner.ownership_percentage),
            is_primary=owner.is_primary,
            created_at=timestamp(owner.created_at),
        )


class TenantOut(Schema):
    person_id: int
    monthly_rent: float
    lease_start_date: str
    lease_end_date: str
    status: Literal["active", "upcoming", "expired", "ended"]
    ended_at: str | None

    @classmethod
    def of(cls, tenancy: Tenancy, today: date) -> TenantOut:
        return cls(
            person_id=tenancy.person_id,
            monthly_rent=float(tenancy.monthly_rent),
            lease_start_date=tenancy.lease_start_date,
            lease_end_date=tenancy.lease_end_date,
            status=tenancy.status(today),
            ended_at=timestamp(tenancy.ended_at),
        )


class StaffMeter(Schema):
    id: int
    unit_id: int
    serial_number: str
    meter_type: str
    utility_type: str
    device_type: str | None
    communication_type: str | None
    dev_eui: str | None
    status: str
    current_reading: float | None
    last_reading_date: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, meter: Meter) -> StaffMeter:
        return cls(
            **MeterSummary.of(meter).model_dump(),
            unit_id=meter.unit_id,
            dev_eui=meter.dev_eui,
            created_at=timestamp(meter.created_at),
            updated_at=timestamp(meter.updated_at),
        )


class UnitDetail(Schema):
    unit: UnitOut
    wallet: StaffWallet | None
    owners: list[OwnerOut]
    tenants: list[TenantOut]
    meters: list[StaffMeter]
    tariffs: list[TariffOut]


class StaffPerson(Schema):
    id: int
    first_name: str
    last_name: str
    full_name: str
    phone: str
    email: str | None
    mobile_user_id: int | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, person: Person) -> StaffPerson:
        return cls(
            **PersonOut.of(person).model_dump(),
            mobile_user_id=person.mobile_user_id,
            created_at=timestamp(person.created_at),
            updated_at=timestamp(person.updated_at),
        )


class PersonSaved(Schema):
    message: str
    person: StaffPerson


class PersonDetail(Schema):
    person: StaffPerson


class MobileUserCreation(Schema):
    """The mobile contract's "Create Mobile User Account" answer."""

    mobile_user_created: bool
    phone_number: str
    temporary_password: str | None = Field(description="Shown this once; only its hash is stored")
    message: str


class MembershipAdded(Schema):
    message: str
    mobile_user: MobileUserCreation


class StaffMobileUser(LoginUser):
    pass


class MobileUserSaved(Schema):
    message: str
    mobile_user: StaffMobileUser


class MeterSaved(Schema):
    message: str
    meter: StaffMeter


class StaffMeterDetail(Schema):
    meter: StaffMeter


class TariffSaved(Schema):
    message: str
    tariff: TariffOut


class StaffReading(Schema):
    id: int
    meter_id: int
    reading_value: float
    reading_date: str
    consumption: float
    cost: float
    status: Literal["baseline", "charged", "lower_than_previous", "no_tariff"] = Field(
        description="baseline: the meter's first reading; lower_than_previous: flagged, not charged "
        "(meter replaced or rolled over); no_tariff: no tariff for the utility, not charged"
    )
    transaction_id: int | None

    @classmethod
    def of(cls, reading: Reading) -> StaffReading:
        return cls(
            **ReadingOut.of(reading).model_dump(),
            meter_id=reading.meter_id,
            status=reading.status,
            transaction_id=reading.transaction_id,
        )


class ReadingSaved(Schema):
    message: str
    reading: StaffReading


class StaffTransaction(TransactionOut):
    unit_id: int
    reference: str | None

    @classmethod
    def of(cls, entry: LedgerEntry) -> StaffTransaction:
        return cls(**TransactionOut.of(entry).model_dump(), unit_id=entry.unit_id, reference=entry.reference)


class TransactionSaved(Schema):
    message: str
    transaction: StaffTransaction


class WalletSaved(Schema):
    message: str
    wallet: StaffWallet


class NotificationOut(Schema):
    kind: Literal["temporary_password", "low_balance"]
    phone: str
    status: Literal["sent", "not_sent", "failed"] = Field(description="not_sent: no SMS provider is configured")
    detail: str
    created_at: str

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(kind=n.kind, phone=n.phone, status=n.status, detail=n.detail, created_at=timestamp(n.created_at))


class NotificationsResponse(Schema):
    notifications: list[NotificationOut]


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
    """The error answers a route documents, each ``{"error", "message"}``."""
    return {s: {"description": _ERRORS[s], "content": {"application/json": {"model": ErrorBody}}} for s in statuses}
