"""The customer-device family's errors, with the sample's codes and messages (rendered by the CUSTOMER style)."""

from __future__ import annotations

from fleetgate.core.errors import Conflict, DomainError, NotFound


class InvalidRequest(DomainError):
    status, code, title = 400, "VALIDATION_ERROR", "Bad Request"


class CustomerNotFound(NotFound):
    code = "CUSTOMER_NOT_FOUND"

    def __init__(self, by_imei: bool = True):
        super().__init__("Customer not found with this IMEI" if by_imei else "Customer not found")


class LocationNotFound(NotFound):
    code = "LOCATION_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Location data not available for this customer")


class InstalmentNotFound(NotFound):
    code = "EMI_NOT_FOUND"


class ImeiTaken(Conflict):
    code = "IMEI_ALREADY_REGISTERED"


class NoFcmToken(DomainError):
    status, code, title = 400, "NO_FCM_TOKEN", "Bad Request"


class QueueUnavailable(DomainError):
    """A command was stored but could not be queued for sending (SQS unreachable): the caller may retry."""

    status, code, title = 503, "COMMAND_QUEUE_UNAVAILABLE", "Service Unavailable"


def invalid_imei() -> InvalidRequest:
    return InvalidRequest("Invalid IMEI format. Must be exactly 15 digits")


def invalid_customer_id() -> InvalidRequest:
    return InvalidRequest("Invalid customer ID format")
