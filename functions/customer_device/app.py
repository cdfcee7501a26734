"""Customer device routes (../shared/specs/customer-device-api.md): the financed phone's own API, no JWT."""

from __future__ import annotations  # route signatures are read on a route's first call, not at import

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.observability import http_handler
from fleetgate.financing import device_service as service
from fleetgate.financing.device_schemas import (
    FcmTokenData,
    FcmTokenRequest,
    LocationData,
    LocationRequest,
    LocationUpdated,
    LockResponseData,
    LockResponseRequest,
    StatusData,
)
from fleetgate.financing.schemas import Envelope, errors

app = make_public_resolver(ErrorStyle.CUSTOMER)
TAGS = ["Customer device"]


def _source_ip() -> str:
    return app.current_event.request_context.http.source_ip


@app.put(
    "/api/customer/device/fcm-token",
    summary="Register the device: FCM token, optional PIN and location",
    tags=TAGS,
    responses=errors(400, 404, 429),
)
def register_token(payload: FcmTokenRequest) -> Envelope[FcmTokenData]:
    data = service.register_token(payload, _source_ip())
    return Envelope(message="FCM token registered successfully", data=data)


@app.post(
    "/api/customer/device/lock-response",
    summary="Report the outcome of a lock or unlock",
    tags=TAGS,
    responses=errors(400, 404, 429),
)
def lock_response(payload: LockResponseRequest) -> Envelope[LockResponseData]:
    return Envelope(message="Lock response received", data=service.lock_response(payload, _source_ip()))


@app.get(
    "/api/customer/device/status/<imei1>",
    summary="Lock state and overdue instalments of the device",
    tags=TAGS,
    responses=errors(400, 404, 429),
)
def status(imei1: str) -> Envelope[StatusData]:
    return Envelope(message="Customer status fetched successfully", data=service.status(imei1, _source_ip()))


@app.get(
    "/api/customer/device/location/<imei1>",
    summary="Last reported location of the device",
    tags=TAGS,
    responses=errors(400, 404, 429),
)
def location(imei1: str) -> Envelope[LocationData]:
    return Envelope(message="Customer location fetched successfully", data=service.location(imei1, _source_ip()))


@app.post(
    "/api/customer/device/location",
    summary="Report the device's location (every 15 minutes)",
    tags=TAGS,
    responses=errors(400, 404, 429),
)
def update_location(payload: LocationRequest) -> Envelope[LocationUpdated]:
    return Envelope(message="Location updated successfully", data=service.update_location(payload, _source_ip()))


lambda_handler = http_handler(app.resolve)
