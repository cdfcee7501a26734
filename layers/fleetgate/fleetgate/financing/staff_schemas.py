"""The staff routes' bodies (/api/admin/customers): requests and the answers only they give. The customer views
that a customer record builds, the audit trail's entries and the phones' contract are in ``schemas`` (the functions
serving the phones and sending lock commands import that module, not this one)."""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from fleetgate.financing.schemas import (
    _IMEI1,
    AuditEntry,
    CustomerOut,
    Day,
    Month,
    Out,
    PendingCommand,
    StaffInput,
    TypedImei,
    _as_text,
)

# ------------------------------------------------------------------ requests
_INSTALMENT = "emiDetails.emiMonths.*"


class Instalment(StaffInput):
    month: Month
    due_date: Day
    amount: float = Field(gt=0, le=10_000_000, allow_inf_nan=False)
    paid: bool = False
    paid_date: Day | None = None


class EmiDetails(StaffInput):
    emi_months: list[Instalment] = Field(min_length=1, max_length=120)

    @model_validator(mode="after")
    def _unique_months(self) -> "EmiDetails":
        months = [i.month for i in self.emi_months]
        if len(set(months)) != len(months):
            raise PydanticCustomError("contract", "Each instalment needs its own month")
        return self


_STAFF_MESSAGES = {
    "fullName": "Full name is required (at most 200 characters)",
    "mobileNumber": "Mobile number must be exactly 10 digits",
    "imei1": _IMEI1,
    "imei2": "IMEI2 must be exactly 15 digits",
    "emiDetails": "emiDetails.emiMonths must list 1 to 120 instalments",
    "emiDetails.emiMonths": "emiDetails.emiMonths must list 1 to 120 instalments",
    f"{_INSTALMENT}.month": "month must be 1-32 letters, digits, - or _",
    f"{_INSTALMENT}.dueDate": "dueDate must be a date (YYYY-MM-DD)",
    f"{_INSTALMENT}.amount": "amount must be a positive number",
    f"{_INSTALMENT}.paid": "paid must be a boolean",
    f"{_INSTALMENT}.paidDate": "paidDate must be a date (YYYY-MM-DD)",
    f"{_INSTALMENT}": "Each instalment needs month, dueDate and amount",
}
FullName = Annotated[str, Field(min_length=1, max_length=200)]
Mobile = Annotated[str, BeforeValidator(_as_text), Field(pattern=r"^\d{10}$")]


class CustomerCreate(StaffInput):
    MESSAGES = _STAFF_MESSAGES
    full_name: FullName
    mobile_number: Mobile
    imei1: TypedImei
    imei2: TypedImei | None = None
    emi_details: EmiDetails

    @model_validator(mode="after")
    def _two_imeis(self) -> "CustomerCreate":
        if self.imei2 is not None and self.imei2 == self.imei1:
            raise ValidationError.from_exception_data(
                "CustomerCreate",
                [{"type": PydanticCustomError("contract", "IMEI2 must differ from IMEI1"), "loc": ("imei2",)}],  # type: ignore[list-item]
            )
        return self


class CustomerUpdate(StaffInput):
    """Fields to change; absent fields keep their value (``imei2: null`` removes the second IMEI)."""

    MESSAGES = _STAFF_MESSAGES
    full_name: FullName | None = None
    mobile_number: Mobile | None = None
    imei1: TypedImei | None = None
    imei2: TypedImei | None = None
    emi_details: EmiDetails | None = None


class InstalmentUpdate(StaffInput):
    MESSAGES = {"paid": "paid must be a boolean", "paidDate": "paidDate must be a date (YYYY-MM-DD)"}
    paid: bool
    paid_date: Day | None = None


class LockRequest(StaffInput):
    MESSAGES = {"isLocked": "isLocked must be a boolean"}
    is_locked: bool


# ------------------------------------------------------------------ answers
class CustomerPage(Out):
    items: list[CustomerOut]
    next_cursor: str | None = Field(description="cursor of the next page; null on the last")


class InstalmentUpdated(Out):
    customer: CustomerOut
    unlock_command_id: str | None = Field(description="The unlock command issued because nothing is overdue now")


class LockCommandIssued(Out):
    customer_id: str
    customer_name: str
    current_lock_status: bool
    requested_lock_status: bool
    lock_status_updated: bool = Field(False, description="Always false: isLocked changes when the phone confirms")
    pending_device_confirmation: bool = True
    command_id: str


class LockStatus(Out):
    customer_id: str
    customer_name: str
    mobile_number: str
    is_locked: bool
    has_fcm_token: bool
    pending_command: PendingCommand | None
    last_updated: str


class AuditPage(Out):
    customer_id: str
    items: list[AuditEntry]
    next_cursor: str | None


class Deleted(Out):
    customer_id: str
