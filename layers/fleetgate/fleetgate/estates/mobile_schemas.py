"""The mobile API's own requests and answers (../shared/specs/mobile-app-api.md, field for field). The views the
staff portal shows too (profile, person, meter, reading, wallet, transaction) and the family's forms are in
``schemas``; the estates admin function never imports this module."""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from fleetgate.core.schemas import Input, Schema
from fleetgate.estates.records import Estate, Meter, Ownership, Tenancy, Unit
from fleetgate.estates.schemas import (
    LoginUser,
    MeterSummary,
    PersonOut,
    ReadingOut,
    TransactionOut,
    UserProfile,
    WalletOut,
)

# ---------------------------------------------------------------- requests
Secret = Annotated[SecretStr, Field(max_length=128)]


class LoginRequest(Input):
    phone_number: Annotated[str, Field(max_length=40, description="E.164 (+27...) or South African (0...)")]
    password: Secret


class ChangePasswordRequest(Input):
    current_password: Secret | None = Field(default=None, description="Optional while a temporary password is in force")
    new_password: Secret = Field(description="8+ characters with an upper-case letter, a lower-case letter and a digit")


# ---------------------------------------------------------------- answers
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
    message: str = Field(examples=["Password changed successfully"])


class UserResponse(Schema):
    user: UserProfile
    person: PersonOut


class UnitsResponse(Schema):
    units: list[ResidentUnit]


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
    def of(cls, meter: Meter, unit: Unit) -> "MeterDetail":
        return cls(**MeterSummary.of(meter).model_dump(), unit_id=unit.id, unit_number=unit.unit_number)


class MetersResponse(Schema):
    meters: list[MeterSummary]


class MeterResponse(Schema):
    meter: MeterDetail


class ReadingsMeter(Schema):
    id: int
    serial_number: str
    utility_type: str


class ReadingsResponse(Schema):
    readings: list[ReadingOut]
    meter: ReadingsMeter


class WalletResponse(Schema):
    wallet: WalletOut


class TransactionsResponse(Schema):
    transactions: list[TransactionOut]
