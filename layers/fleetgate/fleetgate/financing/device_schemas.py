"""The customer-device routes' request and answer models (the phones' function only): apart from ``schemas``, so the
staff routes, the lock-command worker and enforcement do not build them. The contract's rules are ``schemas``'."""

# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from fleetgate.financing.schemas import (
    _IMEI1,
    Action,
    Contract,
    Imei,
    Latitude,
    Location,
    Longitude,
    Out,
    Pin,
)


# ------------------------------------------------------------------ device routes (requests)
class FcmTokenRequest(Contract):
    MESSAGES = {
        "fcmToken": "FCM token is required",
        "imei1": _IMEI1,
        "devicePin": "Device PIN must be 4-6 digits",
        "latitude": "Latitude must be between -90 and 90",
        "longitude": "Longitude must be between -180 and 180",
    }
    fcm_token: str = Field(min_length=1, max_length=4096, repr=False)
    imei1: Imei
    device_pin: Pin | None = Field(default=None, repr=False)
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def _both_coordinates(self) -> "FcmTokenRequest":
        if (self.latitude is None) != (self.longitude is None):
            missing = "latitude" if self.latitude is None else "longitude"
            raise ValidationError.from_exception_data(
                "FcmTokenRequest",
                [{"type": PydanticCustomError("contract", self.MESSAGES[missing]), "loc": (missing,)}],  # type: ignore[list-item]
            )
        return self


class LockResponseRequest(Contract):
    MESSAGES = {
        "imei1": _IMEI1,
        "lockSuccess": "lockSuccess must be a boolean",
        "action": "action must be either LOCK_DEVICE or UNLOCK_DEVICE",
        "errorMessage": "errorMessage must be a string of at most 1000 characters",
    }
    imei1: Imei
    lock_success: bool
    action: Action
    error_message: str | None = Field(default=None, max_length=1000)


class LocationRequest(Contract):
    MESSAGES = {
        "imei1": _IMEI1,
        "latitude": "Latitude must be between -90 and 90",
        "longitude": "Longitude must be between -180 and 180",
    }
    imei1: Imei
    latitude: Latitude
    longitude: Longitude


# ------------------------------------------------------------------ device routes (answers)
class FcmTokenData(Out):
    OMIT_IF_NONE = frozenset({"location"})
    customer_id: str
    customer_name: str
    is_locked: bool
    location: Location | None = Field(default=None, description="Only when a location is stored")
    updated_at: str


class LockResponseData(Out):
    customer_id: str
    customer_name: str
    current_lock_status: bool
    response_processed: bool = Field(description="Whether the answer matched the pending command")


class StatusData(Out):
    customer_id: str
    customer_name: str
    mobile_number: str
    is_locked: bool
    has_pending_emis: bool
    pending_emi_count: int = Field(description="Unpaid instalments already due")
    registered_at: str
    last_updated: str


class LocationData(Out):
    customer_id: str
    customer_name: str
    mobile_number: str
    location: Location


class LocationUpdated(Out):
    customer_id: str
    customer_name: str
    location: Location
