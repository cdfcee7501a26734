"""The customer-device contract (../shared/specs/customer-device-api.md) and the staff routes: pydantic models.

Field names are the contract's camelCase (aliases of snake_case attributes). Invalid requests answer the
sample's express-validator messages: every model maps the errors of a field to that field's message
(``MESSAGES``, keyed by the field's path with ``*`` for list indexes), and errors our own validators raise
(type ``contract``) keep theirs. The submitted value is never echoed.
"""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from fleetgate.core.schemas import Schema

T = TypeVar("T")

Action = Literal["LOCK_DEVICE", "UNLOCK_DEVICE"]
IMEI_PATTERN = re.compile(r"^\d{15}$")
CUSTOMER_ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")
MONTH_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def luhn_ok(digits: str) -> bool:
    """The IMEI check digit (Luhn over the 15 digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _as_text(value: Any) -> Any:
    """express-validator checks the string form: a JSON number 1234 is the PIN "1234"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _luhn(value: str, info: ValidationInfo) -> str:
    if not luhn_ok(value):
        name = to_camel(info.field_name or "imei").upper()
        raise PydanticCustomError("contract", f"{name} is not a valid IMEI (check digit)")
    return value


def _day(value: Any) -> Any:
    """A date, or an ISO timestamp whose date is taken (``2026-01-05T00:00:00.000Z``)."""
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return value
    return value


Imei = Annotated[str, BeforeValidator(_as_text), Field(pattern=IMEI_PATTERN.pattern, description="15 digits")]
TypedImei = Annotated[Imei, AfterValidator(_luhn)]  # typed by a person: the check digit must hold too
Pin = Annotated[str, BeforeValidator(_as_text), Field(pattern=r"^\d{4,6}$", description="4-6 digits")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Day = Annotated[date, BeforeValidator(_day)]
Month = Annotated[str, BeforeValidator(_as_text), Field(pattern=MONTH_PATTERN, description="Instalment key")]


def _with_contract_messages(exc: ValidationError, messages: dict[str, str]) -> ValidationError:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "Unknown field"
        elif err["type"] != "contract":
            path = ".".join("*" if isinstance(p, int) else str(p) for p in loc)
            msg = messages.get(path) or messages.get(str(loc[0]) if loc else "") or msg
        errors.append({"type": PydanticCustomError("contract", msg.replace("{", "(").replace("}", ")")), "loc": loc})
    return ValidationError.from_exception_data(exc.title, errors)  # type: ignore[arg-type]


class Contract(Schema):
    """A request body of this family: camelCase names, the sample's messages."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)
    MESSAGES: ClassVar[dict[str, str]] = {}

    @model_validator(mode="wrap")
    @classmethod
    def _contract_messages(cls, data: Any, handler: Any) -> Any:
        if not cls.MESSAGES:  # a nested model: the enclosing body maps its errors by their full path
            return handler(data)
        try:
            return handler(data)
        except ValidationError as exc:
            raise _with_contract_messages(exc, cls.MESSAGES) from None


class StaffInput(Contract):
    """A staff request body: unknown fields are an error (a typo must not be silently dropped)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True, extra="forbid")


class Out(Schema):
    """A response body: camelCase; fields named in ``OMIT_IF_NONE`` are left out rather than null."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit(self, handler: Any) -> Any:
        data = handler(self)
        for name in self.OMIT_IF_NONE:  # snake_case names; dumped by alias (as answers are) or not
            for key in (name, to_camel(name)):
                if key in data and data[key] is None:
                    del data[key]
        return data


class Envelope(Out, Generic[T]):
    """Every success answer: ``{"success": true, "message", "data"}``."""

    success: bool = True
    message: str
    data: T


# ------------------------------------------------------------------ device routes (their other models: device_schemas)
_IMEI1 = "IMEI1 must be exactly 15 digits"


class Location(Out):
    latitude: float
    longitude: float
    last_updated: str


# ------------------------------------------------------------------ staff views (built from a customer record)
class InstalmentOut(Out):
    month: str
    due_date: str
    amount: float
    paid: bool
    paid_date: str | None = None


class EmiDetailsOut(Out):
    emi_months: list[InstalmentOut]


class PendingCommand(Out):
    command_id: str
    action: Action
    requested_at: str
    expires_at: str
    attempts: int = Field(description="Sends so far")
    last_attempt_at: str | None = None
    last_error: str | None = Field(default=None, description="FCM's answer to the last send, when it failed")


class CustomerOut(Out):
    """A customer as staff see it. Never the PIN or the FCM token: only whether there is one."""

    customer_id: str
    full_name: str
    mobile_number: str
    imei1: str
    imei2: str | None = None
    emi_details: EmiDetailsOut
    is_locked: bool
    has_pending_emis: bool
    pending_emi_count: int
    has_fcm_token: bool
    has_device_pin: bool
    needs_reregistration: bool = Field(description="FCM refused the device's token: the app must register again")
    location: Location | None = None
    pending_command: PendingCommand | None = None
    created_at: str
    updated_at: str


class AuditEntry(Out):
    """One line of a customer's command trail: a command issued, a delivery attempt (with FCM's answer), a
    lock-response from the phone, or a command's end."""

    OMIT_IF_NONE = frozenset(
        {"command_id", "action", "source", "supersedes", "attempt", "outcome", "fcm_error", "fcm_message_id"}
        | {"lock_success", "error_message", "status", "reason"}
    )
    type: Literal["COMMAND", "DELIVERY_ATTEMPT", "LOCK_RESPONSE", "COMMAND_ENDED"]
    at: str
    command_id: str | None = None
    action: Action | None = None
    source: str | None = Field(default=None, description="COMMAND: staff or enforcement")
    supersedes: str | None = Field(default=None, description="COMMAND: the pending command it replaced")
    attempt: int | None = None
    outcome: Literal["SENT", "RETRY", "FAILED"] | None = None
    fcm_error: str | None = Field(default=None, description="FCM's error code (UNAVAILABLE, UNREGISTERED, ...)")
    fcm_message_id: str | None = None
    lock_success: bool | None = None
    error_message: str | None = None
    status: Literal["ACKNOWLEDGED", "FAILED", "EXPIRED", "SUPERSEDED"] | None = None
    reason: str | None = None


# ------------------------------------------------------------------ OpenAPI: the documented error answers
_ERROR_TEXT = {
    400: "VALIDATION_ERROR (details per field), or a malformed IMEI or customer id",
    401: "UNAUTHORIZED: no or invalid bearer token",
    403: "FORBIDDEN: not an admin",
    404: "CUSTOMER_NOT_FOUND (or LOCATION_NOT_FOUND, EMI_NOT_FOUND)",
    409: "IMEI_ALREADY_REGISTERED, or CONFLICT when the customer changed meanwhile",
    429: "RATE_LIMIT_EXCEEDED, with Retry-After",
    503: "COMMAND_QUEUE_UNAVAILABLE: the command is recorded but not queued",
}


def errors(*statuses: int) -> dict[int, dict[str, Any]]:
    """The ``responses`` of a route: each error status with the family's error body."""
    return {s: {"description": _ERROR_TEXT[s]} for s in statuses}  # the resolver adds the family's error body
