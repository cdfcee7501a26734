"""The staff portal's contract (/api/admin, the paths and bodies issue 10 fixes), in the mobile family's forms."""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from fleetgate.core.ids import normalize_dev_eui
from fleetgate.core.schemas import Input, Schema
from fleetgate.estates.records import (
    Estate,
    LedgerEntry,
    Meter,
    Notification,
    Ownership,
    Person,
    Reading,
    Tariff,
    Tenancy,
    Unit,
    Wallet,
)
from fleetgate.estates.schemas import (
    LoginUser,
    MeterSummary,
    PersonOut,
    ReadingOut,
    TransactionOut,
    WalletOut,
    number,
    rands,
    timestamp,
)

MAX_ID = 2**53 - 1


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
UtilityType = Literal["electricity", "water"]
MeterType = Literal["prepaid", "postpaid"]
MeterStatus = Literal["active", "inactive", "faulty"]


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
    def of(cls, estate: Estate) -> "EstateOut":
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
    def of(cls, tariff: Tariff) -> "TariffOut":
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
    def of(cls, unit: Unit) -> "UnitOut":
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
    def of(cls, wallet: Wallet) -> "StaffWallet":
        return cls(**WalletOut.of(wallet).model_dump(), low_balance_threshold=rands(wallet.low_balance_threshold_cents))


class OwnerOut(Schema):
    person_id: int
    ownership_percentage: float
    is_primary: bool
    created_at: str

    @classmethod
    def of(cls, owner: Ownership) -> "OwnerOut":
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
    def of(cls, tenancy: Tenancy, today: date) -> "TenantOut":
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
    def of(cls, meter: Meter) -> "StaffMeter":
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
    def of(cls, person: Person) -> "StaffPerson":
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
    def of(cls, reading: Reading) -> "StaffReading":
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
    def of(cls, entry: LedgerEntry) -> "StaffTransaction":
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
    def of(cls, n: Notification) -> "NotificationOut":
        return cls(kind=n.kind, phone=n.phone, status=n.status, detail=n.detail, created_at=timestamp(n.created_at))


class NotificationsResponse(Schema):
    notifications: list[NotificationOut]
